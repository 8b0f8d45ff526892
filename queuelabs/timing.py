"""Measure responsiveness: the cheap endpoint's latency, idle and while slow requests run.

Used by lab 01's checkpoints (which judge a measurement with queuelabs/testing/responsive.py),
`make bench` (percentile) and anyone curious. The method:

1. idle: fire `probes` requests at the cheap endpoint, one every `interval`
   seconds, each timed on its own;
2. loaded: start `n_slow` slow requests at once, give them `settle` seconds
   to reach the server, then fire the same probes the same way;
3. wait for the slow requests and report everything.

Probes are fired on a clock (open loop), not one after the other: a probe
sent while the server is frozen waits for the freeze to end, exactly like a
user who clicks during it. Comparing medians of the same kind of probe in
the same run makes the result independent of how fast the machine is.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import httpx

from .waiting import patience


@dataclass
class Call:
    path: str
    start: float  # seconds, time.perf_counter()
    end: float
    status: int
    body: str

    @property
    def elapsed(self) -> float:
        return self.end - self.start


@dataclass
class Measurement:
    slow_path: str
    idle: list[Call] = field(default_factory=list)
    loaded: list[Call] = field(default_factory=list)
    slow: list[Call] = field(default_factory=list)

    @property
    def idle_p50(self) -> float:
        return percentile([c.elapsed for c in self.idle], 50)

    @property
    def loaded_p50(self) -> float:
        return percentile([c.elapsed for c in self.loaded], 50)

    @property
    def ratio(self) -> float:
        """Loaded median over idle median: 1 means 'as if nothing were running'."""
        return self.loaded_p50 / self.idle_p50

    def probes_overlapped_slow_requests(self) -> bool:
        """True when every loaded probe was sent while slow work was still running.

        "Running" means at least one slow request had not answered yet: with a
        pool smaller than `n_slow`, the later requests wait for a free worker,
        and the server is busy all along.
        """
        last_slow_end = max(c.end for c in self.slow)
        last_probe_start = max(c.start for c in self.loaded)
        return last_probe_start < last_slow_end

    def summary(self) -> str:
        return (
            f"{self.slow_path}: cheap endpoint p50 idle {ms(self.idle_p50)}, "
            f"with {len(self.slow)} slow requests in flight {ms(self.loaded_p50)} "
            f"(x{self.ratio:.1f})"
        )


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (p50 of [1, 2, 3, 4] is 2)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))  # ceil
    return ordered[int(rank) - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


async def _timed(client: httpx.AsyncClient, method: str, path: str) -> Call:
    start = time.perf_counter()
    response = await client.request(method, path)
    return Call(path, start, time.perf_counter(), response.status_code, response.text)


async def _probe_on_a_clock(client: httpx.AsyncClient, path: str, probes: int, interval: float) -> list[Call]:
    tasks = []
    for _ in range(probes):
        tasks.append(asyncio.create_task(_timed(client, "GET", path)))
        await asyncio.sleep(interval)
    return list(await asyncio.gather(*tasks))


async def measure(
    base_url: str,
    slow_path: str,
    *,
    n_slow: int = 3,
    cheap_path: str = "/ping",
    probes: int = 15,
    interval: float = 0.03,
    settle: float = 0.15,
    timeout: float = 60.0,  # scaled by patience() below
    measure_idle: bool = True,
) -> Measurement:
    """Idle, then loaded, latency of `cheap_path` while `n_slow` x `slow_path` run."""
    result = Measurement(slow_path)
    limits = httpx.Limits(max_connections=n_slow + probes + 4, max_keepalive_connections=n_slow + probes + 4)
    async with httpx.AsyncClient(base_url=base_url, timeout=patience(timeout), limits=limits) as client:
        for _ in range(3):  # warm up: open a connection, let the server settle
            await client.get(cheap_path)
        if measure_idle:
            result.idle = await _probe_on_a_clock(client, cheap_path, probes, interval)
        slow_tasks = [asyncio.create_task(_timed(client, "GET", slow_path)) for _ in range(n_slow)]
        await asyncio.sleep(settle)
        result.loaded = await _probe_on_a_clock(client, cheap_path, probes, interval)
        result.slow = list(await asyncio.gather(*slow_tasks))
    return result


def run(base_url: str, slow_path: str, **kwargs) -> Measurement:
    """Synchronous wrapper for tests and scripts."""
    return asyncio.run(measure(base_url, slow_path, **kwargs))
