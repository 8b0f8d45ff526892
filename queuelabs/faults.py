"""Failure injection for checkpoints: real faults, caused by pid and undone by pid.

"Never blocks" and "never loses a task" are claims about faults, so the
checkpoints cause them for real: freeze a server (SIGSTOP) and thaw it
(SIGCONT), kill a worker's pool child or its parent with SIGKILL, or open a
port that accepts connections and never answers (a hung server). The shape
follows Celery's own smoke tests: the ways to kill are an enum, and tests
are parametrised over them.
"""

from __future__ import annotations

import enum
import os
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psutil

from queuelabs.processes import ManagedProcess, read_pid
from queuelabs.settings import SERVICES


class Kill(enum.Enum):
    """How a worker dies: asked politely, or not at all."""

    SIGTERM = signal.SIGTERM  # warm shutdown: finish the current task, then exit
    SIGQUIT = signal.SIGQUIT  # cold shutdown: stop now
    SIGKILL = signal.SIGKILL  # kill -9: no clean-up, no acknowledgement


def send(pid: int, how: Kill | signal.Signals) -> None:
    os.kill(pid, how.value if isinstance(how, Kill) else how)


def kill_worker_child(worker: ManagedProcess, how: Kill = Kill.SIGKILL) -> int:
    """Kill one process of a prefork worker's pool (the one running a task, if any); its pid."""
    children = worker.children()
    assert children, f"{worker.name} (pid {worker.pid}) has no pool process to kill"
    busy = max(children, key=lambda p: p.cpu_times().user + p.cpu_times().system)
    send(busy.pid, how)
    return busy.pid


def kill_worker_parent(worker: ManagedProcess, how: Kill = Kill.SIGKILL) -> int:
    """Kill the worker's main process; with SIGKILL its pool children are orphaned and stopped too."""
    children = worker.children()
    send(worker.pid, how)
    if how is Kill.SIGKILL:
        for child in children:  # as a crash of the whole machine would: nobody finishes the task
            try:
                child.kill()
            except psutil.NoSuchProcess:
                pass
    return worker.pid


def freeze(pid: int) -> None:
    """SIGSTOP: the process holds its sockets open and answers nothing, like a hung server."""
    os.kill(pid, signal.SIGSTOP)


def thaw(pid: int) -> None:
    os.kill(pid, signal.SIGCONT)


@contextmanager
def frozen(pid: int) -> Iterator[int]:
    """with frozen(pid): ... the process is stopped inside the block, and always thawed after it."""
    freeze(pid)
    try:
        yield pid
    finally:
        thaw(pid)


def listening_pid(port: int) -> int | None:
    """The pid of the process listening on 127.0.0.1:`port`, if this user may see it."""
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
            return conn.pid
    return None


def service_pid(name: str) -> int:
    """The pid of the server process of `rabbitmq`, `redis` or `mongodb` (for RabbitMQ: the
    Erlang VM, beam.smp, not its start-up wrapper). Fails with one line when it cannot be found."""
    port = SERVICES[name].port
    started = read_pid(name)
    if started is not None:  # a native server the project started: look among its descendants
        family = [psutil.Process(started), *psutil.Process(started).children(recursive=True)]
        for proc in family:
            try:
                if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in proc.net_connections("tcp")):
                    return proc.pid
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
    pid = listening_pid(port)
    if pid is None:
        raise AssertionError(
            f"cannot find the process of {SERVICES[name].title} on port {port}: fault checkpoints need "
            "the native stack (make up) and permission to signal it"
        )
    return pid


@contextmanager
def silent_port() -> Iterator[int]:
    """A TCP port on 127.0.0.1 that accepts connections and never answers: a hung server."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    server.settimeout(0.2)
    conns: list[socket.socket] = []
    done = threading.Event()

    def accept_forever() -> None:
        while not done.is_set():
            try:
                conns.append(server.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept_forever, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        done.set()
        thread.join(1)
        for conn in conns:
            conn.close()
        server.close()


def serve_silently(port: int) -> None:
    """`python -m queuelabs.faults PORT`: a hung server as a process of its own (silent_port's, for a
    process that outlives one test). It accepts every connection, reads and drops what comes, answers
    nothing, and closes a connection only once its client has."""
    import selectors

    server = socket.create_server(("127.0.0.1", port), backlog=64)
    waiting = selectors.DefaultSelector()
    waiting.register(server, selectors.EVENT_READ)
    while True:
        for key, _ in waiting.select():
            if key.fileobj is server:
                waiting.register(server.accept()[0], selectors.EVENT_READ)
            elif not key.fileobj.recv(65536):  # the client closed: so does this end
                waiting.unregister(key.fileobj)
                key.fileobj.close()


if __name__ == "__main__":
    import sys

    serve_silently(int(sys.argv[1]))
