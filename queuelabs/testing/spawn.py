"""Real processes for tests: a lab's API under a real server, a real Celery worker.

Every process gets the checkpoints' isolated environment, its own log under
.run/logs/checkpoints/, and is stopped (its whole process group) when the
fixture that started it ends.

Ctrl+C (`make check`, `make watch`) must not leave one behind: the first
press stops the run and its teardown stops every process; a second press
used to abort that teardown half way (the API of the run kept running), so
from the second press on, Ctrl+C kills every process the run started instead.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import uuid
from pathlib import Path

import pytest

from queuelabs import warm
from queuelabs.labs import Lab
from queuelabs.processes import ManagedProcess, free_port, port_open
from queuelabs.readiness import answers_http, worker_answers, worker_idle
from queuelabs.settings import LOG_DIR
from queuelabs.waiting import WaitTimeout, eventually, wait_until

from .checks import patience

# Every process the run started and has not stopped yet: their logs are named under a failed
# checkpoint (grading.py) and a second Ctrl+C kills them. On the run's config (pytest's stash),
# never in this module: two runs in one process (pytester's) share nothing.
LIVE = pytest.StashKey[list[ManagedProcess]]()


def live_processes(config: pytest.Config) -> list[ManagedProcess]:
    """The run's list of processes started and not stopped yet (made on first use)."""
    return config.stash.setdefault(LIVE, [])


class Spawner:
    """Starts processes for tests and stops them when asked (the end of a fixture's scope).

    With `base` (the graded code's base fingerprint, see queuelabs/warm.py), processes started with
    a warm key are parked at the end instead of stopped, and the next run takes them back while
    the files they load are unchanged and they still answer."""

    def __init__(
        self, code_dir: Path, env: dict[str, str], base: str | None = None, live: list[ManagedProcess] | None = None
    ):
        self.code_dir, self.env, self.base = code_dir, env, base
        self.started: list[ManagedProcess] = []
        # The run's live processes (live_processes(config)), which this spawner's join while running.
        self.live = live if live is not None else []
        # id(proc): its warm key, its worker name, and (its words, what it loaded) at its start
        self.reusable: dict[int, tuple[str, str | None, tuple[list[str], dict]]] = {}

    def warm_key(self, role: str, env: dict[str, str] | None) -> str | None:
        if self.base is None:
            return None
        return f"{self.base}:{role}:{sorted((env or {}).items())}"

    def reuse(
        self, key: str | None, env: dict[str, str] | None = None, *, silent: bool = False
    ) -> ManagedProcess | None:
        """A parked process of this key that answers a real request now, or None (it is stopped).
        silent: a server that never answers (a hung one), reused while its port accepts connections."""
        claimed = warm.claim(key, {**self.env, **(env or {})}) if key else None
        if claimed is None:
            return None
        proc, worker_name, started = claimed
        env = proc.env
        if worker_name:
            hostname = f"{worker_name}@{socket.gethostname()}"
            answers = worker_answers(env["CELERY_BROKER_URL"], hostname)
        elif silent:
            answers = proc.port is not None and port_open(proc.port)
        else:
            answers = proc.port is not None and answers_http(proc.port, timeout=patience(2.0))
        if not answers:
            proc.stop()
            return None
        self.started.append(proc)
        self.live.append(proc)
        self.reusable[id(proc)] = (key, worker_name, started)
        return proc

    def __call__(
        self,
        argv: list[str],
        *,
        name: str | None = None,
        port: int | None = None,
        ready_url: str | None = None,
        ready_log: str | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float = 30.0,
        warm_key: str | None = None,
    ) -> ManagedProcess:
        argv = list(argv)
        name = name or Path(argv[0]).name
        worker_name = None
        if Path(argv[0]).name == "celery" and "worker" in argv:
            # Unique, so a learner's own worker never answers for this one.
            worker_name = f"checkpoint-{uuid.uuid4().hex[:8]}"
            argv.append(f"--hostname={worker_name}@%h")
            ready_log = ready_log or " ready."
        log_path = LOG_DIR / "checkpoints" / f"{name}-{uuid.uuid4().hex[:6]}.log"
        proc = ManagedProcess(name, argv, cwd=cwd or self.code_dir, env={**self.env, **(env or {})}, log_path=log_path)
        proc.port = port
        proc.url = f"http://127.0.0.1:{port}" if port else None
        self.started.append(proc)  # before it starts: a Ctrl+C right after must still stop it
        self.live.append(proc)
        proc.start()
        timeout = patience(timeout)
        try:
            proc.wait_ready(port=None if ready_url else port, url=ready_url, log_text=ready_log, timeout=timeout)
            if worker_name:  # it said " ready.": it must also answer a ping, as it will answer tasks
                broker = proc.env["CELERY_BROKER_URL"]
                hostname = f"{worker_name}@{socket.gethostname()}"
                wait_until(lambda: worker_answers(broker, hostname), timeout=timeout, what=f"{name} to answer a ping")
        except (RuntimeError, WaitTimeout) as exc:
            pytest.fail(str(exc), pytrace=False)
        if warm_key:
            words = argv + [value for value in proc.env.values() if len(value) < 200]
            self.reusable[id(proc)] = (warm_key, worker_name, (words, warm.snapshot(proc.cwd, words)))
        return proc

    def stop_parked_workers(self) -> None:
        """Stop the workers an earlier run parked that this run has not taken back: parked, a worker
        still consumes the test queues, so "no worker runs" (Worker.stop) means none of those either."""
        for entry in warm.parked():
            if entry["worker_name"] and (claimed := warm.claim(entry["key"], self.env)) is not None:
                claimed[0].stop()

    def stop(self, proc: ManagedProcess) -> None:
        proc.stop()
        if proc in self.live:
            self.live.remove(proc)
        if proc in self.started:
            self.started.remove(proc)
        self.reusable.pop(id(proc), None)

    def stop_all(self, park: bool = False) -> None:
        """Stop every process; with `park`, keep the reusable ones that ended healthy for the next run."""
        for proc in reversed(list(self.started)):
            key, worker_name, started = self.reusable.get(id(proc), (None, None, ([], {})))
            if park and key and self.base and self._fit(proc, worker_name):
                warm.park(proc, key, self.base, started, worker_name)
                self.started.remove(proc)
                if proc in self.live:
                    self.live.remove(proc)
                continue
            self.stop(proc)

    @staticmethod
    def _fit(proc: ManagedProcess, worker_name: str | None) -> bool:
        if not proc.alive():
            return False
        if worker_name:  # holding no task, which would finish into the next run's stores: a failed
            # checkpoint may leave a short task running, given a moment to end
            hostname = f"{worker_name}@{socket.gethostname()}"
            return bool(eventually(lambda: worker_idle(proc.env["CELERY_BROKER_URL"], hostname), timeout=patience(5)))
        return True


def kill_all_now(live: list[ManagedProcess]) -> int:
    """SIGKILL the process group of every process the run started and has not stopped; how many."""
    killed = 0
    for proc in list(live):
        if proc.alive():
            try:
                os.killpg(proc.proc.pid, signal.SIGKILL)
                killed += 1
            except (ProcessLookupError, PermissionError):
                pass
    return killed


class CtrlC:
    """pytest's SIGINT handler: the first press stops the run (KeyboardInterrupt, as usual,
    and the teardown stops each process); a further press must not abort that teardown, so
    it kills every process the run started at once and lets the teardown finish."""

    def __init__(self, live: list[ManagedProcess]) -> None:
        self.live = live
        self.pressed = 0
        self.previous = None

    def install(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self)

    def uninstall(self) -> None:
        if self.previous is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, self.previous)
            self.previous = None

    def __call__(self, signum, frame) -> None:
        self.pressed += 1
        if self.pressed == 1:
            raise KeyboardInterrupt
        killed = kill_all_now(self.live)
        print(f"\nCtrl+C again: killed the {killed} process(es) this run started.", file=sys.stderr, flush=True)


def lab_process_starter(lab: Lab, spawner: Spawner):
    """start("api") runs one of the lab's declared processes (lab.toml) on a free port."""

    def start(process: str, *, env: dict[str, str] | None = None, extra_args: tuple[str, ...] = (), **kw):
        key = spawner.warm_key(f"{process} {' '.join(extra_args)}", env)
        if (reused := spawner.reuse(key, env)) is not None:
            return reused
        declared = lab.processes[process]
        port = free_port() if declared.port else None
        argv = lab.command(process, port=port, host="127.0.0.1") + list(extra_args)
        # Ready means a real answer: an HTTP request served (gunicorn's port opens long before Django
        # has loaded), beat's start line; a worker's ping is asked by the spawner itself.
        if declared.ready == "http":
            kw.setdefault("ready_url", f"http://127.0.0.1:{port}/")
        elif "beat" in argv:
            kw.setdefault("ready_log", "beat: Starting...")
        return spawner(argv, name=process, port=port, env=env, warm_key=key, **kw)

    return start


class Worker:
    """One real `celery worker` process of a lab, started and stopped on demand. With the spawner
    that starts it, stop() also stops the workers an earlier run parked (see Spawner.stop_parked_workers):
    a test that stops the worker to queue tasks nobody takes (2.7's priorities) needs none running."""

    def __init__(self, start, process: str = "worker", spawner: Spawner | None = None):
        self._start = start
        self.process = process
        self.spawner = spawner
        self.proc: ManagedProcess | None = None

    def start(self, concurrency: int = 2, *extra_args: str) -> Worker:
        if self.proc is None or not self.proc.alive():
            self.proc = self._start(
                self.process,
                extra_args=(f"--concurrency={concurrency}", "--without-mingle", "--without-gossip", *extra_args),
            )
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
            self.proc = None
        if self.spawner is not None:
            self.spawner.stop_parked_workers()
