"""Responsiveness seen in one run: is a cheap request answered while slow ones are in flight?

Used by lab 01's checkpoints (which judge a race with queuelabs/testing/responsive.py);
`percentile` by `make bench`. The method is an order, not durations: a busy laptop slows every
request, but it does not change which answer comes first.

1. `n_slow` slow requests go out at once;
2. meanwhile the cheap endpoint is probed on a clock, one probe every `interval` seconds, each
   timed on its own, until the first slow request is answered;
3. a free event loop answers every probe within milliseconds, long before the slow answer; a
   blocked loop holds each probe that reaches it while it is blocked, and answers it only after
   the slow request it was busy with.

Probes are fired on a clock (open loop), not one after the other: a probe sent while the server is
frozen waits for the freeze to end, exactly like a user who clicks during it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

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
class Race:
    """Slow requests sent at `sent`, and the probes sent until the first of them was answered."""

    slow_path: str
    sent: float
    slow: list[Call]
    probes: list[Call]

    @property
    def first_answer(self) -> float:
        return min(c.end for c in self.slow)

    def early_probes(self) -> list[Call]:
        """The probes sent in the first half of the wait for the first slow answer: a free loop has
        at least that half to answer each of them, a blocked one holds those sent once it blocked."""
        half = self.sent + (self.first_answer - self.sent) / 2
        return [p for p in self.probes if p.start < half]

    def answered_late(self, margin: float) -> list[Call]:
        """The early probes not answered at least `margin` seconds before the first slow answer."""
        return [p for p in self.early_probes() if p.end + margin >= self.first_answer]

    def summary(self) -> str:
        early = self.early_probes()
        waited = ms(self.first_answer - self.sent)
        if not early:
            return f"{self.slow_path}: the first of {len(self.slow)} answered after {waited}, before any probe"
        slowest = max(p.elapsed for p in early)
        return (
            f"{self.slow_path}: the first of {len(self.slow)} answered after {waited}; the {len(early)} probes "
            f"sent in the first half of that wait answered in {ms(percentile([p.elapsed for p in early], 50))} "
            f"(slowest {ms(slowest)}), the last {ms(self.first_answer - max(p.end for p in early))} before it"
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


async def race(
    base_url: str,
    slow_path: str,
    *,
    n_slow: int = 3,
    cheap_path: str = "/ping",
    interval: float = 0.05,
    max_probes: int = 400,
    timeout: float = 60.0,  # scaled by patience() below
) -> Race:
    """`n_slow` x `slow_path` at once, and `cheap_path` probed on a clock until the first is answered."""
    # No connection limit: a probe that waited for a free connection in this client would look slow.
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(base_url=base_url, timeout=patience(timeout), limits=limits) as client:
        for _ in range(3):  # warm up: open a connection, let the server settle
            await client.get(cheap_path)
        sent = time.perf_counter()
        slow_tasks = [asyncio.create_task(_timed(client, "GET", slow_path)) for _ in range(n_slow)]
        probe_tasks: list[asyncio.Task[Call]] = []
        while not any(task.done() for task in slow_tasks) and len(probe_tasks) < max_probes:
            probe_tasks.append(asyncio.create_task(_timed(client, "GET", cheap_path)))
            await asyncio.wait(slow_tasks, timeout=interval, return_when=asyncio.FIRST_COMPLETED)
        slow = list(await asyncio.gather(*slow_tasks))
        probes = list(await asyncio.gather(*probe_tasks))
    return Race(slow_path, sent, slow, probes)


def run(base_url: str, slow_path: str, **kwargs) -> Race:
    """Synchronous wrapper for tests and scripts."""
    return asyncio.run(race(base_url, slow_path, **kwargs))
