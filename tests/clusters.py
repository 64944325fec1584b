"""Real engines for the `cluster` tests: a single-node Slurm cluster and a throwaway PostgreSQL 15
server, each in a temp dir of its own, started as the daemons' own users and stopped by PID.

    with clusters.slurm_cluster() as slurm:      # munged, slurmctld -D, slurmd -D; one idle node
        subprocess.run(["sbatch", ...], env=os.environ | slurm.env)
    with clusters.postgres_server() as pg:       # initdb + postgres as the postgres user
        pg.uri("mlflow")                         # postgresql+psycopg2://postgres@127.0.0.1:PORT/mlflow

The Slurm cluster is what a lab's cluster is, cut to one node: munge authentication, a controller
and a node daemon, one default partition, no accounting (so no sacct). Every path lives in the temp
dir (configuration, state, spool, logs, PID files, the munge key and socket) and every Slurm command
finds it through $SLURM_CONF, so nothing under /etc is read or changed and two clusters on one machine
do not meet. Where the machine cannot run an engine (not root, a package missing), `system.unavailable`
skips the test with the reason (fails it in CI).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import system

SLURM_BIN = {"slurmctld": "/usr/sbin/slurmctld", "slurmd": "/usr/sbin/slurmd", "munged": "/usr/sbin/munged",
             "sbatch": "/usr/bin/sbatch", "sinfo": "/usr/bin/sinfo", "squeue": "/usr/bin/squeue",
             "scancel": "/usr/bin/scancel"}
PG_BIN = Path("/usr/lib/postgresql/15/bin")
READY_TIMEOUT = 60.0  # the node is idle in ~2 s and PostgreSQL ready in ~3 s on 2 cores; room for load
NODE = "node1"
PARTITION = "debug"
NODE_CPUS = 2
KILL_WAIT_S = 10  # seconds between scancel's SIGTERM and SIGKILL (Slurm's default is 30)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        system.unavailable(f"no {name!r} user: its Debian package creates it; {system.HINT}")


def _owned_dir(path: Path, user: pwd.struct_passwd, mode: int = 0o700) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, user.pw_uid, user.pw_gid)
    path.chmod(mode)
    return path


def _owned_file(path: Path, user: pwd.struct_passwd, data: bytes = b"", mode: int = 0o600) -> Path:
    path.write_bytes(data)
    os.chown(path, user.pw_uid, user.pw_gid)
    path.chmod(mode)
    return path


def _tail(path: Path, n: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError as error:
        return f"(no log: {error})"


@dataclass
class Daemon:
    """One process we started (in its own session), its log, and how it stops."""

    name: str
    process: subprocess.Popen
    log: Path
    stop_signal: int = signal.SIGTERM

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}; its log:\n{_tail(self.log)}")

    def stop(self, grace: float = 15.0) -> None:
        """stop_signal to the PID, wait `grace` s, then SIGKILL its process group."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(self.stop_signal)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(grace)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)  # what a daemon may have left in its group
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)


def _spawn(name: str, cmd: list[str], log: Path, user: pwd.struct_passwd | None = None,
           env: dict[str, str] | None = None, stop_signal: int = signal.SIGTERM) -> Daemon:
    """Start `cmd` in a session of its own, output appended to `log`, as `user` (root: as is)."""
    ids = {} if user is None else {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    with open(log, "ab") as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=env, start_new_session=True, **ids)
    return Daemon(name, process, log, stop_signal)


def _wait(ready, what: str, daemons: list[Daemon], logs: list[Path], timeout: float = READY_TIMEOUT) -> None:
    """Poll `ready()` until true; a daemon that dies or a timeout raises with the logs' tails."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for d in daemons:
            d.check_alive()
        if ready():
            return
        time.sleep(0.1)
    tails = "\n".join(f"--- {log}\n{_tail(log)}" for log in logs)
    raise RuntimeError(f"{what} not ready within {timeout:.0f} s:\n{tails}")


# ---------------------------------------------------------------------------------------------------
# Slurm


@dataclass
class Slurm:
    """A running single-node cluster: $SLURM_CONF for its commands, its folder, its start-up time."""

    root: Path  # the temp dir: slurm.conf, state/, spool/, logs, munge/
    conf: Path
    partition: str
    cpus: int
    memory_mb: int
    startup_s: float = 0.0
    daemons: list[Daemon] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        """What a process needs to reach this cluster (sbatch, squeue, submitit, srun in a job)."""
        return {"SLURM_CONF": str(self.conf)}

    def run(self, *cmd: str, timeout: float = 30) -> subprocess.CompletedProcess:
        """A Slurm command against this cluster; its output as text."""
        return subprocess.run(list(cmd), env=os.environ | self.env, capture_output=True, text=True,
                              timeout=timeout)

    def node_state(self) -> str:
        """sinfo's state of the node: idle, mix, alloc, down*, ..."""
        proc = self.run(SLURM_BIN["sinfo"], "-h", "-N", "-o", "%t", timeout=10)
        return proc.stdout.strip() if proc.returncode == 0 else ""

    def queue(self) -> list[str]:
        """squeue's lines (job id, name, state), one per job (an array task counts as one)."""
        proc = self.run(SLURM_BIN["squeue"], "-h", "-r", "-o", "%i %j %T", timeout=10)
        return proc.stdout.split("\n") if proc.stdout.strip() else []


def node_memory_mb() -> int:
    """RealMemory for the node: a little under what `free -m` calls total (slurmd drains a node whose
    configured memory exceeds what it finds)."""
    total_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                    if line.startswith("MemTotal:"))
    return int(total_kb / 1024 * 0.95)


def slurm_conf(root: Path, socket_path: Path, ctl_port: int, node_port: int, memory_mb: int) -> str:
    """slurm.conf for one controller and one node on this host, everything under `root`."""
    host = socket.gethostname().split(".")[0]  # slurmctld refuses to run on a host not named here
    lines = [
        "ClusterName=scratchnet",
        f"SlurmctldHost={host}(127.0.0.1)",
        f"SlurmctldPort={ctl_port}",
        f"SlurmdPort={node_port}",
        "SlurmUser=root",  # the daemons and the jobs run as root here: no slurm user, no cgroups
        "SlurmdUser=root",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        f"AuthInfo=socket={socket_path}",  # our munged, not the system one
        f"StateSaveLocation={root / 'state'}",
        f"SlurmdSpoolDir={root / 'spool'}",
        f"SlurmctldPidFile={root / 'slurmctld.pid'}",
        f"SlurmdPidFile={root / 'slurmd.pid'}",
        f"SlurmctldLogFile={root / 'slurmctld.log'}",
        f"SlurmdLogFile={root / 'slurmd.log'}",
        "SlurmctldDebug=info",
        "SlurmdDebug=info",
        "ProctrackType=proctrack/linuxproc",  # no cgroup plugins: they need a writable cgroup tree
        "TaskPlugin=task/none",
        "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none",  # no slurmdbd: sacct answers nothing
        "JobCompType=jobcomp/none",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core_Memory",  # cores and memory are what jobs ask for (cpus, mem)
        "SchedulerType=sched/backfill",
        "MpiDefault=none",
        "ReturnToService=2",
        "SlurmdParameters=config_overrides",  # CPUs=2 holds whatever the machine has
        f"KillWait={KILL_WAIT_S}",
        "MailProg=/bin/true",
        f"NodeName={NODE} NodeAddr=127.0.0.1 CPUs={NODE_CPUS} RealMemory={memory_mb} State=UNKNOWN",
        f"PartitionName={PARTITION} Nodes={NODE} Default=YES MaxTime=INFINITE State=UP",
    ]
    return "\n".join(lines) + "\n"


def _start_munged(root: Path, daemons: list[Daemon]) -> Path:
    """munged as the munge user with a key and socket of its own under root/munge; the socket."""
    munge = _user("munge")
    folder = _owned_dir(root / "munge", munge, 0o755)  # clients (slurmctld, srun) reach the socket
    key = _owned_file(folder / "munge.key", munge, os.urandom(1024), 0o400)
    sock = folder / "munge.socket"
    log = _owned_file(folder / "munged.log", munge, mode=0o640)
    daemons.append(_spawn("munged", [SLURM_BIN["munged"], "--foreground", f"--socket={sock}",
                                     f"--key-file={key}", f"--log-file={log}",
                                     f"--pid-file={folder / 'munged.pid'}", f"--seed-file={folder / 'munged.seed'}"],
                          root / "munged.out", user=munge))
    _wait(sock.exists, "munged", daemons, [log, root / "munged.out"])
    return sock


@contextlib.contextmanager
def slurm_cluster() -> Iterator[Slurm]:
    """Start munged, slurmctld and slurmd in a temp dir; yield once the node is idle; stop them."""
    system.require_root("a single-node Slurm cluster")
    for name in ("slurmctld", "slurmd", "sbatch", "sinfo"):
        system.require_file(SLURM_BIN[name], "slurm-wlm")
    system.require_file(SLURM_BIN["munged"], "munge")
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="scratchnet-slurm-"))
    root.chmod(0o755)  # munged (the munge user) must reach its folder inside
    daemons: list[Daemon] = []
    try:
        sock = _start_munged(root, daemons)
        memory = node_memory_mb()
        conf = root / "slurm.conf"
        conf.write_text(slurm_conf(root, sock, free_port(), free_port(), memory))
        for sub in ("state", "spool"):
            (root / sub).mkdir()
        env = os.environ | {"SLURM_CONF": str(conf)}
        daemons.append(_spawn("slurmctld", [SLURM_BIN["slurmctld"], "-D", "-i"], root / "slurmctld.out", env=env))
        daemons.append(_spawn("slurmd", [SLURM_BIN["slurmd"], "-D", "-N", NODE], root / "slurmd.out", env=env))
        cluster = Slurm(root, conf, PARTITION, NODE_CPUS, memory, daemons=daemons)
        _wait(lambda: cluster.node_state() == "idle", "the Slurm node", daemons,
              [root / "slurmctld.log", root / "slurmd.log", root / "slurmctld.out", root / "slurmd.out"])
        cluster.startup_s = time.monotonic() - started
        yield cluster
        _cancel_jobs(cluster)
    finally:
        for daemon in reversed(daemons):  # slurmd, slurmctld, then munged
            daemon.stop()
        shutil.rmtree(root, ignore_errors=True)


def _cancel_jobs(cluster: Slurm, timeout: float = 30) -> None:
    """scancel whatever a test left queued or running, and wait for the queue to empty."""
    if not cluster.queue():
        return
    cluster.run(SLURM_BIN["scancel"], "--full", f"--partition={cluster.partition}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and cluster.queue():
        time.sleep(0.5)


# ---------------------------------------------------------------------------------------------------
# PostgreSQL


@dataclass
class Postgres:
    """A running PostgreSQL 15 server on 127.0.0.1:port (trust authentication, user postgres)."""

    root: Path
    port: int
    socket_dir: Path
    log: Path
    startup_s: float = 0.0

    def uri(self, database: str) -> str:
        """The SQLAlchemy URI MLflow takes: psycopg2 (MLflow 3.17 reads plain postgresql:// as psycopg 3)."""
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run `sql` with psql over the server's socket; its output (tuples only)."""
        proc = subprocess.run([str(PG_BIN / "psql"), "-h", str(self.socket_dir), "-p", str(self.port), "-U",
                               "postgres", "-d", database, "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                              capture_output=True, text=True, timeout=30)
        if proc.returncode != 0:
            raise RuntimeError(f"psql {sql!r} failed: {proc.stderr.strip()}")
        return proc.stdout.strip()


@contextlib.contextmanager
def postgres_server(databases: tuple[str, ...] = ("mlflow",)) -> Iterator[Postgres]:
    """initdb a cluster in a temp dir, run `postgres` on a free port, create `databases`; stop by PID."""
    for tool in ("initdb", "postgres", "pg_isready", "psql"):
        system.require_file(PG_BIN / tool, "postgresql")
    # PostgreSQL refuses to run as root: as root it runs as the postgres user, else as ourselves
    user = _user("postgres") if os.geteuid() == 0 else None
    owner = user or pwd.getpwuid(os.geteuid())
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="scratchnet-postgres-"))
    root.chmod(0o755)  # the postgres user reaches its folders inside
    daemons: list[Daemon] = []
    try:
        data, sockets = _owned_dir(root / "data", owner), _owned_dir(root / "run", owner, 0o755)
        log = _owned_file(root / "postgres.log", owner, mode=0o640)
        proc = subprocess.run([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                               "-E", "UTF8", "--locale=C", "--no-sync"], capture_output=True, text=True,
                              timeout=120, cwd=root, **({} if user is None else {"user": user.pw_uid,
                                                                                  "group": user.pw_gid}))
        if proc.returncode != 0:
            raise RuntimeError(f"initdb failed ({proc.returncode}): {proc.stderr.strip()}")
        port = free_port()
        # a throwaway server: fsync off (nothing here must survive a crash of the machine)
        daemons.append(_spawn("postgres", [str(PG_BIN / "postgres"), "-D", str(data), "-p", str(port),
                                           "-k", str(sockets), "-c", "listen_addresses=127.0.0.1",
                                           "-c", "fsync=off", "-c", "max_connections=100"],
                              log, user=user, stop_signal=signal.SIGINT))  # SIGINT: fast shutdown
        server = Postgres(root, port, sockets, log)

        def ready() -> bool:
            return subprocess.run([str(PG_BIN / "pg_isready"), "-q", "-h", str(sockets), "-p", str(port)],
                                  timeout=10).returncode == 0

        _wait(ready, "PostgreSQL", daemons, [log])
        for name in databases:
            server.psql(f"CREATE DATABASE {name}")
        server.startup_s = time.monotonic() - started
        yield server
    finally:
        for daemon in daemons:
            daemon.stop()
        shutil.rmtree(root, ignore_errors=True)
