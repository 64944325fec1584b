"""Which process writes a run, and whether a process recorded earlier is provably dead.

A process is named by where it runs (host name, machine id, boot id, PID namespace) and by its pid
and start time (clock ticks after boot, /proc/<pid>/stat field 22), so a reused pid is told apart
from the process that first had it. Everything is read from Linux's /proc; where it cannot be
read, nothing is ever declared dead.
"""

from __future__ import annotations

import functools
import hashlib
import os
import socket
import time
from dataclasses import dataclass


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, start ticks) of process `pid`, or None when there is no such process."""
    text = _read(f"/proc/{pid}/stat")
    if not text:
        return None
    fields = text.rsplit(")", 1)[-1].split()  # the command name, in parentheses, may hold spaces
    try:
        return fields[0], int(fields[19])  # field 3 is the state, field 22 the start time
    except (IndexError, ValueError):
        return None


@dataclass(frozen=True)
class Process:
    """One process: where it runs and which one it is there."""

    host: str  # socket.gethostname()
    machine: str  # /etc/machine-id ("" if unknown)
    boot: str  # /proc/sys/kernel/random/boot_id ("" if unknown)
    pid_ns: str  # /proc/self/ns/pid, e.g. "pid:[4026531836]" ("" if unknown)
    pid: int
    start: int  # clock ticks after boot; -1 if unknown

    @property
    def key(self) -> str:
        """machine/boot/pid_ns/pid/start: what a later process compares (the MLflow tag)."""
        return "/".join((self.machine, self.boot, self.pid_ns, str(self.pid), str(self.start)))

    @property
    def place(self) -> str:
        """8 hex digits for host + machine + boot + PID namespace (in staging folder names)."""
        where = "/".join((self.host, self.machine, self.boot, self.pid_ns))
        return hashlib.sha1(where.encode()).hexdigest()[:8]

    @classmethod
    def parse(cls, host: str, key: str) -> Process | None:
        """The process a `key` tag names (None if it is not one)."""
        parts = key.split("/")
        if len(parts) != 5:
            return None
        try:
            return cls(host, parts[0], parts[1], parts[2], int(parts[3]), int(parts[4]))
        except ValueError:
            return None

    def started_at(self) -> str:
        """The start time in UTC (ISO 8601, seconds), for people; "" if unknown."""
        btime = next((line.split()[1] for line in _read("/proc/stat").splitlines() if line.startswith("btime ")), "")
        if not btime or self.start < 0:
            return ""
        seconds = int(btime) + self.start / os.sysconf("SC_CLK_TCK")
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


@functools.cache
def _place() -> tuple[str, str, str, str]:
    pid_ns = ""
    try:
        pid_ns = os.readlink("/proc/self/ns/pid")
    except OSError:
        pass
    return socket.gethostname(), _read("/etc/machine-id"), _read("/proc/sys/kernel/random/boot_id"), pid_ns


def this_process() -> Process:
    """The calling process (a fork gets its own pid and start time)."""
    pid = os.getpid()
    stat = _stat(pid)
    return Process(*_place(), pid, stat[1] if stat else -1)


def dead_reason(owner: Process, me: Process | None = None) -> str | None:
    """Why `owner` is provably dead, or None when it is alive or cannot be judged from here.

    Judged only on the same host (name and machine id), in the same PID namespace: the pid is gone
    or a zombie, or another process has it now (another start time), or the machine has rebooted
    since (another boot id). Anything else (another host, a container's own pids, no /proc) is
    left alone: a live run must never be ended.
    """
    me = me or this_process()
    if owner.host != me.host or owner.start < 0 or not me.boot:
        return None
    if owner.machine and owner.machine == me.machine and owner.boot != me.boot:
        return f"host {owner.host} has rebooted since process {owner.pid} started"
    if owner.boot != me.boot or owner.pid_ns != me.pid_ns:
        return None
    stat = _stat(owner.pid)
    if stat is None:
        return f"process {owner.pid} on {owner.host} is gone"
    state, start = stat
    if start != owner.start:
        return f"process {owner.pid} on {owner.host} is gone (the pid now belongs to a process started later)"
    if state in ("Z", "X"):
        return f"process {owner.pid} on {owner.host} is gone (a zombie)"
    return None
