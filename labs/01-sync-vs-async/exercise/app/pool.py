"""The process pool for CPU-bound reports (exercise 1.3), and its housekeeping."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor


def make_process_pool(workers: int) -> ProcessPoolExecutor:
    # "spawn" starts clean interpreters instead of forking this multi-threaded
    # server (forking a process that runs threads can copy a held lock).
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_exit_with_parent,
        initargs=(os.getpid(),),
    )


def _exit_with_parent(parent_pid: int) -> None:
    """Runs in each pool process: leave when the server is gone, even after a kill -9.

    Ctrl+C in a terminal reaches every process of the group: the pool's
    processes ignore it (no KeyboardInterrupt traceback from each of them),
    and the server shuts them down itself.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()
