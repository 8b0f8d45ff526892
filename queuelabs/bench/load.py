"""The benchmark's two kinds of traffic: a flood of submissions and a clock of cheap requests.

The flood runs in its own process, so the probes' timing is not the load
generator's; it speaks bare HTTP/1.1 on asyncio streams, because a
full-featured client spends more CPU per request than the API does, and on
a 2-core machine it would measure itself instead of the API.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import re
import time
from urllib.parse import urlsplit

import httpx

CHEAP = "/api/items?limit=5"
SUBMIT = "/api/async/process"
BODY = {"data": "bench", "iterations": 1, "priority": "normal"}
PROBE_INTERVAL = 0.05
PROBE_TIMEOUT = 5.0  # a probe that gets no answer counts as this long (shown as ">=")
# While RabbitMQ is frozen, a single submission every SUBMIT_INTERVAL, during the first SUBMIT_SECONDS
# of the window only: each then has the rest of it to be answered before the thaw (the reference's
# 503 takes up to twice its 2 s limit: a wait for one of its 2 publishing slots, then the publish).
SUBMIT_INTERVAL = 0.1
SUBMIT_SECONDS = 1.5
PATIENCE_AFTER_THAW = 30.0  # what a request sent during the freeze may still take once RabbitMQ is back


async def _flood(
    url: str, connections: int, seconds: float, timeout: float, started=None, stop=None, accepted=None
) -> dict[str, int]:
    """`connections` keep-alive connections, each submitting again as soon as the API answers.

    `started` (an Event) is set at the first answer: the flood is really running. `stop` (an Event)
    ends it before `seconds`. `accepted` (a shared array: count, monotonic time) counts the 202s
    and when the last one came, while the flood runs."""
    host, port = urlsplit(url).hostname, urlsplit(url).port
    body = json.dumps(BODY).encode()
    request = (
        f"POST {SUBMIT} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    counts: dict[str, int] = {}
    deadline = time.monotonic() + seconds

    async def one_user() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.monotonic() < deadline and not (stop is not None and stop.is_set()):
                writer.write(request)
                try:
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
                except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                    counts["no answer"] = counts.get("no answer", 0) + 1
                    return
                status = head.split(b" ", 2)[1].decode()
                length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
                await reader.readexactly(length)
                counts[status] = counts.get(status, 0) + 1
                if accepted is not None and status == "202":
                    accepted[0] += 1
                    accepted[1] = time.monotonic()  # one clock for every process (CLOCK_MONOTONIC)
                if started is not None and not started.is_set():
                    started.set()
        finally:
            writer.close()

    await asyncio.gather(*(one_user() for _ in range(connections)))
    return counts


def _flood_process(url: str, connections: int, seconds: float, timeout: float, out, started, stop, accepted) -> None:
    out.put(asyncio.run(_flood(url, connections, seconds, timeout, started, stop, accepted)))


class Flood:
    """`with Flood(url, 8, 6.0) as flood: ...` then `flood.counts`: {"202": n, "503": m, ...}.

    Inside the block, `flood.accepted` and `flood.last_accepted` tell how many 202s it got so far
    and when the last one came (time.monotonic()); `flood.stop()` ends it early."""

    def __init__(self, url: str, connections: int, seconds: float, timeout: float = 10.0):
        self.seconds = seconds
        self.timeout = timeout
        context = multiprocessing.get_context("spawn")
        self._out = context.Queue()
        self._started = context.Event()
        self._stop = context.Event()
        self._accepted = context.Array("d", [0.0, time.monotonic()])
        self._proc = context.Process(
            target=_flood_process,
            args=(url, connections, seconds, timeout, self._out, self._started, self._stop, self._accepted),
            daemon=True,
        )
        self.counts: dict[str, int] = {}

    @property
    def accepted(self) -> int:
        return int(self._accepted[0])

    @property
    def last_accepted(self) -> float:
        return self._accepted[1]

    def stop(self) -> None:
        self._stop.set()

    def __enter__(self) -> Flood:
        """Returns once the flood got its first answer (a spawned process takes seconds to start on a busy machine)."""
        self._proc.start()
        if not self._started.wait(60):
            raise RuntimeError("the load generator got no answer within 60 s")
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
        self.counts = self._out.get(timeout=self.timeout + 60)
        self._proc.join(10)


async def _probe(url: str, seconds: float) -> list[float]:
    async with httpx.AsyncClient(base_url=url, timeout=PROBE_TIMEOUT) as client:

        async def one() -> float:
            start = time.perf_counter()
            try:
                await client.get(CHEAP)
            except httpx.HTTPError:
                return PROBE_TIMEOUT
            return time.perf_counter() - start

        tasks = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            tasks.append(asyncio.create_task(one()))
            await asyncio.sleep(PROBE_INTERVAL)
        return list(await asyncio.gather(*tasks))


def probe_cheap_route(url: str, seconds: float) -> list[float]:
    """Seconds each GET of the cheap route took, one sent every PROBE_INTERVAL whatever the answers."""
    return asyncio.run(_probe(url, seconds))


async def _frozen_clock(url: str, seconds: float, thaw) -> tuple[list[float], list[tuple[float, str, bool]]]:
    async with httpx.AsyncClient(
        base_url=url, timeout=seconds + PATIENCE_AFTER_THAW, limits=httpx.Limits(max_connections=None)
    ) as client:
        thawed_at: list[float] = []

        async def timed(request) -> tuple[float, str, bool]:
            start = time.perf_counter()
            try:
                status = str((await request).status_code)
            except httpx.HTTPError:
                status = "no answer"
            end = time.perf_counter()
            return end - start, status, not thawed_at or end < thawed_at[0]

        probes, submissions = [], []
        start = time.monotonic()
        sent = 0
        while (now := time.monotonic()) < start + seconds:
            probes.append(asyncio.create_task(timed(client.get(CHEAP))))
            while now >= start + sent * SUBMIT_INTERVAL and sent * SUBMIT_INTERVAL < SUBMIT_SECONDS:
                submissions.append(asyncio.create_task(timed(client.post(SUBMIT, json=BODY))))
                sent += 1
            await asyncio.sleep(PROBE_INTERVAL)
        thaw()
        thawed_at.append(time.perf_counter())
        return [p[0] for p in await asyncio.gather(*probes)], list(await asyncio.gather(*submissions))


def frozen_clock(url: str, seconds: float, thaw) -> tuple[list[float], list[tuple[float, str, bool]]]:
    """While RabbitMQ is frozen: the cheap route every PROBE_INTERVAL for `seconds`, and a submission
    every SUBMIT_INTERVAL for the first SUBMIT_SECONDS of them; then `thaw()`, then every answer
    awaited (none given up on before PATIENCE_AFTER_THAW: a request that hangs until the thaw is
    timed as long as it hung).

    Returns the probes' seconds, and each submission's (seconds, status, answered before the thaw)."""
    return asyncio.run(_frozen_clock(url, seconds, thaw))
