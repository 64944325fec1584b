"""Start and stop real subprocess servers for the tests: `mlflow server`, `mlflow models serve`.

Each server listens on 127.0.0.1 on a free port, is polled until its health URL answers, and is
stopped by its PID (SIGTERM, then SIGKILL) with its whole process group (gunicorn/uvicorn workers).
A server that never comes up fails the test with the tail of its log.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

VENV_BIN = Path(sys.executable).parent
READY_TIMEOUT = 90.0  # the server is ready in ~20 s on 2 cores; 90 s leaves room for a busy machine


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def quiet_env(**extra: str) -> dict[str, str]:
    """os.environ with MLflow's telemetry off (and any extra variables)."""
    return os.environ | {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"} | extra


@dataclass
class Server:
    url: str  # http://127.0.0.1:PORT
    port: int
    process: subprocess.Popen
    log: Path

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError as e:
            return f"(no log: {e})"


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start(cmd: list[str], port: int, log: Path, health: str = "/health",
          timeout: float = READY_TIMEOUT, env: dict[str, str] | None = None) -> Server:
    """Run `cmd` in its own process group with output to `log`; wait until GET `health` is 200."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                   env=env or quiet_env(), start_new_session=True)
    server = Server(f"http://127.0.0.1:{port}", port, process, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{cmd[:3]} exited with {process.returncode} before answering "
                        f"{health}; its log:\n{server.log_tail()}")
        if _healthy(server.url + health):
            return server
        time.sleep(0.5)
    stop(server)
    pytest.fail(f"{cmd[:3]} did not answer {server.url}{health} within {timeout:.0f} s; "
                f"its log:\n{server.log_tail()}")


def stop(server: Server, grace: float = 5.0) -> None:
    """SIGTERM the server's process group, wait `grace` seconds, then SIGKILL it."""
    pid = server.process.pid
    if server.process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        try:
            server.process.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    # workers may outlive a master that has already exited
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.process.wait(5)


@contextlib.contextmanager
def mlflow_server(root: Path, backend_uri: str | None = None, workers: int = 1) -> Iterator[Server]:
    """A tracking server with proxied artifacts in root/artifacts (clients upload through the server,
    so they share no folder with it); its store is `backend_uri`, by default root/mlflow.db (SQLite)."""
    port = free_port()
    cmd = [str(VENV_BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
           "--workers", str(workers),
           "--backend-store-uri", backend_uri or f"sqlite:///{root / 'mlflow.db'}",
           "--artifacts-destination", str(root / "artifacts")]
    server = start(cmd, port, root / "server.log")
    try:
        yield server
    finally:
        stop(server)


@contextlib.contextmanager
def model_server(model_uri: str, log: Path, tracking_uri: str) -> Iterator[Server]:
    """`mlflow models serve` of `model_uri` in this venv (--env-manager local) on a free port."""
    port = free_port()
    cmd = [str(VENV_BIN / "mlflow"), "models", "serve", "-m", model_uri, "--env-manager", "local",
           "-h", "127.0.0.1", "-p", str(port), "-w", "1"]
    env = quiet_env(MLFLOW_TRACKING_URI=tracking_uri, PATH=f"{VENV_BIN}:{os.environ['PATH']}")
    server = start(cmd, port, log, health="/ping", env=env)
    try:
        yield server
    finally:
        stop(server)
