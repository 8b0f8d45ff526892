"""Start, watch and stop the project's own processes.

Two users: the test fixtures (a server or worker for one test, see
queuelabs/testing) and the CLI (`make lab02`, the native stack), which records
each process's pid in the run folder so `make down` stops exactly what the
project started. Process state comes from psutil, never from /proc by hand.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import psutil

from .settings import LOG_DIR, PID_DIR, ensure_run_dirs
from .waiting import WaitTimeout, eventually, wait_until

VENV_BIN = Path(sys.executable).parent


def resolve(argv: list[str]) -> list[str]:
    """Run `uvicorn`, `celery`, `locust`... from this virtual environment."""
    candidate = VENV_BIN / argv[0]
    if candidate.exists():
        return [str(candidate), *argv[1:]]
    return list(argv)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def is_running(pid: int) -> bool:
    """True for a live process; a zombie (exited, not yet reaped) counts as dead."""
    try:
        return psutil.Process(pid).status() not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def supervised(pid: int) -> list[psutil.Process]:
    """What a reloader (uvicorn --reload, watchfiles) runs for you: its live children, less
    multiprocessing's resource tracker, which outlives a server that crashed."""
    try:
        children = psutil.Process(pid).children()
    except psutil.NoSuchProcess:
        return []
    alive = []
    for child in children:
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(child.cmdline()):
                alive.append(child)
        except psutil.Error:
            continue
    return alive


def lost_its_child(pid: int) -> bool:
    """A reloader (watchfiles, uvicorn or gunicorn --reload) whose code died: it waits for a save."""
    try:
        command = " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return False
    return ("watchfiles" in command or "--reload" in command) and not supervised(pid)


def resume_if_frozen(pid: int) -> bool:
    """SIGCONT a process, or any of its descendants, stopped by SIGSTOP (the lessons' "freeze"
    experiments); True when one was. A frozen server keeps its port open and answers nothing."""
    try:
        family = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return False
    frozen = [p for p in family if _status(p) == psutil.STATUS_STOPPED]
    for proc in frozen:
        os.kill(proc.pid, signal.SIGCONT)
    return bool(frozen)


def _status(proc: psutil.Process) -> str | None:
    try:
        return proc.status()
    except psutil.Error:
        return None


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)  # our own child: collect its exit status
    except ChildProcessError:
        pass


def kill_group(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM the process group (the process and its children), SIGKILL after `timeout`."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        if eventually(lambda: _reap(pid) or not is_running(pid), timeout=wait):
            return


class ManagedProcess:
    """One child process with its own log file and process group."""

    def __init__(self, name: str, argv: list[str], *, cwd: Path, env: dict[str, str], log_path: Path):
        self.name = name
        self.argv = resolve(argv)
        self.cwd = cwd
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.url: str | None = None

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own group, so a stop reaches its children
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def children(self) -> list[psutil.Process]:
        """Its child processes (a prefork worker's pool), oldest first."""
        try:
            return sorted(psutil.Process(self.pid).children(), key=lambda p: p.create_time())
        except psutil.NoSuchProcess:
            return []

    def wait_ready(
        self,
        *,
        port: int | None = None,
        url: str | None = None,
        log_text: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        """Wait until the port accepts, the URL answers, or the log shows `log_text`."""

        def ready() -> bool:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited during start-up:\n{self.log_tail()}")
            return _ready(port, url, log_text, self.log_path)

        try:
            wait_until(ready, timeout=timeout, what=f"{self.name} to start")
        except WaitTimeout:
            raise RuntimeError(f"{self.name} was not ready after {timeout:g} s:\n{self.log_tail()}") from None

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            kill_group(self.proc.pid, timeout)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass

    def log_tail(self, lines: int = 40) -> str:
        return tail(self.log_path, lines)


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def http_status(url: str, timeout: float = 1.0) -> int | None:
    """The HTTP status `url` answers with (any, 404 and 503 included), or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            return reply.status
    except urllib.error.HTTPError as exc:  # an answer, just not a 2xx (checked before OSError, its base)
        return exc.code
    except OSError:
        return None


def _ready(port, url, log_text, log_path: Path) -> bool:
    if url:
        return http_status(url) is not None
    if port:
        return port_open(port)
    if log_text:
        try:
            return log_text in log_path.read_text(errors="replace")
        except OSError:
            return False
    return True


# --- detached processes for the CLI, tracked by pid file -------------------


def pid_file(name: str) -> Path:
    return PID_DIR / f"{name}.pid"


def read_pid(name: str) -> int | None:
    try:
        pid = int(pid_file(name).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if is_running(pid) else None


def start_detached(name: str, argv: list[str], *, cwd: Path, env: dict[str, str]) -> ManagedProcess:
    ensure_run_dirs()
    proc = ManagedProcess(name, argv, cwd=cwd, env=env, log_path=LOG_DIR / f"{name}.log").start()
    pid_file(name).write_text(str(proc.pid))
    return proc


def stop_detached(name: str, timeout: float = 15.0) -> bool:
    """Stop a process this project started; True if one was running."""
    pid = read_pid(name)
    pid_file(name).unlink(missing_ok=True)
    if pid is None:
        return False
    kill_group(pid, timeout)
    return True


def tracked_names() -> list[str]:
    if not PID_DIR.exists():
        return []
    return sorted(p.stem for p in PID_DIR.glob("*.pid"))


def listener_of(port: int) -> str:
    """Who listens on a port, in words: one of the project's processes by its name, else the program and pid."""
    try:
        pid = next(
            (
                c.pid
                for c in psutil.net_connections(kind="tcp")
                if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid
            ),
            None,
        )
        if pid is None:
            return "another program (this user may not see which)"
        family = {pid, *(parent.pid for parent in psutil.Process(pid).parents())}
        for name in tracked_names():
            if read_pid(name) in family:
                return f"{name} (pid {read_pid(name)}, this project's: `make stop NAME={name}`)"
        return f"{psutil.Process(pid).name()} (pid {pid})"
    except (psutil.Error, OSError):
        return "another program"
