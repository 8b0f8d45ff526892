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


async def _flood(url: str, connections: int, seconds: float, timeout: float, started=None) -> dict[str, int]:
    """`connections` keep-alive connections, each submitting again as soon as the API answers.

    `started` (an Event) is set at the first answer: the flood is really running."""
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
            while time.monotonic() < deadline:
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
                if started is not None and not started.is_set():
                    started.set()
        finally:
            writer.close()

    await asyncio.gather(*(one_user() for _ in range(connections)))
    return counts


def _flood_process(url: str, connections: int, seconds: float, timeout: float, out, started) -> None:
    out.put(asyncio.run(_flood(url, connections, seconds, timeout, started)))


class Flood:
    """`with Flood(url, 8, 6.0) as flood: ...` then `flood.counts`: {"202": n, "503": m, ...}."""

    def __init__(self, url: str, connections: int, seconds: float, timeout: float = 10.0):
        self.seconds = seconds
        context = multiprocessing.get_context("spawn")
        self._out = context.Queue()
        self._started = context.Event()
        self._proc = context.Process(
            target=_flood_process, args=(url, connections, seconds, timeout, self._out, self._started), daemon=True
        )
        self.counts: dict[str, int] = {}

    def __enter__(self) -> Flood:
        """Returns once the flood got its first answer (a spawned process takes seconds to start on a busy machine)."""
        self._proc.start()
        if not self._started.wait(60):
            raise RuntimeError("the load generator got no answer within 60 s")
        return self

    def __exit__(self, *exc) -> None:
        self.counts = self._out.get(timeout=self.seconds + 60)
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
