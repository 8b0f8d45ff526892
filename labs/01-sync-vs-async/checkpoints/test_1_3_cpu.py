"""Exercise 1.3: CPU-bound work in a process pool keeps the event loop free.

Two computations go out at once and GET /ping is probed meanwhile (queuelabs/timing.py). Two
verdicts, neither a ratio of durations (a busy machine stretches those):
- where the computing happened: the server's own process (the loop's thread, or a thread of its
  own that shares the GIL with the loop) or other processes, read from each process's CPU time;
- an order: the probes sent while the computations run are answered before the first of them;
  a loop that waits for the result without awaiting answers them only after it.
"""

import json
import threading

import httpx
import psutil
import pytest

from queuelabs import timing
from queuelabs.testing.checks import patience
from queuelabs.testing.responsive import assert_loop_free_while_slow

TARGET_SECONDS = 1.0  # how long each computation should take on this machine
N_SLOW = 2


def loop_turns_for(base_url: str, seconds: float) -> int:
    """Calibrate: how many loop turns take `seconds` here (machines differ)."""
    sample = 3_000_000
    timings = []
    for _ in range(2):  # the faster of two: a busy moment makes a run look slow
        response = httpx.get(f"{base_url}/report/cpu/blocking", params={"n": sample}, timeout=30)
        response.raise_for_status()
        timings.append(json.loads(response.text)["elapsed"])
    elapsed = min(timings)
    return max(sample, min(400_000_000, int(sample * seconds / elapsed)))


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


class CpuWatch:
    """The CPU time the server's own process (all its threads) and its child processes spend while
    it runs. Children are read every 50 ms, so a pool started for one request counts too."""

    def __init__(self, pid: int):
        self.server = psutil.Process(pid)
        self.children_at_start: dict[int, float] = {}
        self.children_seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _read_children(self) -> dict[int, float]:
        found = {}
        for child in self.server.children(recursive=True):
            try:
                found[child.pid] = cpu_seconds(child)
            except psutil.Error:  # it ended meanwhile
                continue
        return found

    def _watch(self) -> None:
        while not self._stop.wait(0.05):
            self.children_seen.update(self._read_children())

    def __enter__(self) -> "CpuWatch":
        self.server_at_start = cpu_seconds(self.server)
        self.children_at_start = self._read_children()
        self.children_seen = dict(self.children_at_start)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.children_seen.update(self._read_children())
        self.own = cpu_seconds(self.server) - self.server_at_start
        self.elsewhere = sum(t - self.children_at_start.get(pid, 0.0) for pid, t in self.children_seen.items())


@pytest.mark.exercise("1.3")
@pytest.mark.timeout(patience(60))
def test_process_pool_keeps_ping_fast(app_server):
    n = loop_turns_for(app_server.url, patience(TARGET_SECONDS))  # longer than the probes, busy or not
    with CpuWatch(app_server.pid) as cpu:
        race = timing.run(app_server.url, f"/report/cpu/fixed?n={n}", n_slow=N_SLOW)
    timing_advice = "await the pool's result with loop.run_in_executor(request.app.state.process_pool, crunch, n)"
    if all(call.status == 200 for call in race.slow):
        assert cpu.elsewhere > cpu.own, (
            f"crunch ran in the server's own process ({cpu.own:.2f} s of CPU there, {cpu.elsewhere:.2f} s in "
            "other processes): on the loop's thread it is blocking the event loop, in a thread it still shares "
            f"the GIL with it: {timing_advice}"
        )
    assert_loop_free_while_slow(race, advice=timing_advice)
    print(f"n={n}: {race.summary()}; CPU {cpu.own:.2f} s in the server, {cpu.elsewhere:.2f} s in the pool")
