"""Whether a node of the cluster can answer at all: stopped, frozen, or running."""

from __future__ import annotations

import psutil

from ..processes import port_open, read_pid


def frozen(pid: int) -> bool:
    """True when the process or one of its descendants was stopped with SIGSTOP (a lesson's freeze)."""
    try:
        family = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
        return any(proc.status() == psutil.STATUS_STOPPED for proc in family)
    except psutil.Error:
        return False


def not_running(name: str, port: int, host: str = "127.0.0.1") -> str | None:
    """Why the node `name` (its pid file) on `host`:`port` cannot answer, or None when it runs."""
    pid = read_pid(name)
    if pid is None:
        return None if port_open(port, host) else "stopped"
    if frozen(pid):
        return "frozen (SIGSTOP): `make cluster` resumes it"
    return None
