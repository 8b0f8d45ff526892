"""`make bench LAB=02`: the reference API against the naive variant, under the same load, in one run.

The naive variant (labs/02-fastapi-celery/bench/naive_app.py) is the anti-pattern
the lesson warns about: synchronous PyMongo, Redis and `apply_async` straight
inside `async def`. Both run under uvicorn against the checkpoints' isolated
stack, one after the other, with no worker (the queues are emptied afterwards):

1. idle: GET /api/items?limit=5 (the cheap route) on a clock, its p95;
2. loaded: a flood of POST /api/async/process from another process: accepted
   submits per second, the API's CPU time per accepted submit, the cheap p95;
3. frozen: RabbitMQ stopped by pid (SIGSTOP) under a lighter submit load:
   the cheap route's p95, and how the submissions were answered.

Plus the raw `apply_async` publish rate of one process, the ceiling for
anything that publishes through Celery. Figures are compared within one run.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import psutil

from .labs import find_lab
from .probes import services_down
from .processes import ManagedProcess, free_port
from .settings import LOG_DIR, TEST_ENV
from .stack import ensure_test_vhost
from .testing import faults
from .testing.isolation import purge_queues
from .testing.timing import percentile

IDLE_SECONDS = 3.0
LOAD_SECONDS = 6.0
FREEZE_SECONDS = 6.0
FLOOD_CONCURRENCY = 32
FROZEN_CONCURRENCY = 8
PROBE_INTERVAL = 0.05
PROBE_TIMEOUT = 5.0  # a probe that gets no answer counts as this long (shown as ">=")
CHEAP = "/api/items?limit=5"
SUBMIT = "/api/async/process"
BODY = {"data": "bench", "iterations": 1, "priority": "normal"}
RAW_PUBLISHES = 2000


@dataclass
class Figures:
    name: str
    idle: list[float] = field(default_factory=list)
    loaded: list[float] = field(default_factory=list)
    frozen: list[float] = field(default_factory=list)
    submits_per_second: float = 0.0
    cpu_ms_per_submit: float = 0.0
    frozen_answers: dict[str, int] = field(default_factory=dict)


# --- load, in its own process (so the probes' timing is not the load generator's) -----


async def _flood(url: str, concurrency: int, seconds: float, timeout: float) -> dict[str, int]:
    """`concurrency` keep-alive connections, each submitting as fast as the API answers.

    A bare HTTP/1.1 client on asyncio streams: a full-featured client spends
    more CPU per request than the API does, and on 2 cores it would measure
    itself instead of the API.
    """
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
        finally:
            writer.close()

    await asyncio.gather(*(one_user() for _ in range(concurrency)))
    return counts


def _flood_process(url: str, concurrency: int, seconds: float, timeout: float, out) -> None:
    out.put(asyncio.run(_flood(url, concurrency, seconds, timeout)))


def start_flood(url: str, concurrency: int, seconds: float, timeout: float = 10.0):
    out = multiprocessing.get_context("spawn").Queue()
    proc = multiprocessing.get_context("spawn").Process(
        target=_flood_process, args=(url, concurrency, seconds, timeout, out), daemon=True
    )
    proc.start()
    return proc, out


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
    return asyncio.run(_probe(url, seconds))


# --- one variant ------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """CPU time of the API's process and of any process it started (uvicorn --workers)."""
    parent = psutil.Process(pid)
    return sum(sum(p.cpu_times()[:2]) for p in (parent, *parent.children(recursive=True)))


def measure(name: str, url: str, pid: int, queues: tuple[str, ...]) -> Figures:
    figures = Figures(name)
    with httpx.Client(base_url=url, timeout=10) as http:  # warm up: connections, imports, caches
        for _ in range(20):
            http.post(SUBMIT, json=BODY)
            http.get(CHEAP)
    figures.idle = probe_cheap_route(url, IDLE_SECONDS)

    cpu_before = cpu_seconds(pid)
    flood, out = start_flood(url, FLOOD_CONCURRENCY, LOAD_SECONDS)
    time.sleep(0.5)  # the flood is running
    figures.loaded = probe_cheap_route(url, LOAD_SECONDS - 1.0)
    counts = out.get(timeout=LOAD_SECONDS + 30)
    flood.join(10)
    accepted = counts.get("202", 0)
    figures.submits_per_second = accepted / LOAD_SECONDS
    figures.cpu_ms_per_submit = (cpu_seconds(pid) - cpu_before) * 1000 / max(accepted, 1)
    purge_queues(queues)

    flood, out = start_flood(url, FROZEN_CONCURRENCY, FREEZE_SECONDS, timeout=PROBE_TIMEOUT)
    time.sleep(0.3)
    with faults.frozen(faults.service_pid("rabbitmq")):
        figures.frozen = probe_cheap_route(url, FREEZE_SECONDS - 0.5)
    figures.frozen_answers = out.get(timeout=FREEZE_SECONDS + 60)
    flood.join(10)
    recover(url)
    purge_queues(queues)
    return figures


def recover(url: str, timeout: float = 60.0) -> None:
    """After the thaw: wait until a submission is accepted again, so the next variant starts clean."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=url, timeout=10) as http:
        while time.monotonic() < deadline:
            try:
                if http.post(SUBMIT, json=BODY).status_code == 202:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)


def raw_publish_rate(code_dir, env: dict[str, str]) -> float:
    """Tasks per second that one process publishes with apply_async, in a loop, and nothing else."""
    script = (
        "import time\n"
        "from app.tasks import process_report as task\n"
        "for _ in range(50): task.apply_async(kwargs={'data': 'bench', 'iterations': 1})\n"
        "start = time.perf_counter()\n"
        f"for _ in range({RAW_PUBLISHES}): task.apply_async(kwargs={{'data': 'bench', 'iterations': 1}})\n"
        f"print({RAW_PUBLISHES} / (time.perf_counter() - start))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=code_dir, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the raw publish loop failed: {done.stderr.strip().splitlines()[-1:]}")
    return float(done.stdout.strip().splitlines()[-1])


def start_api(name: str, argv: list[str], code_dir, env: dict[str, str]) -> ManagedProcess:
    proc = ManagedProcess(f"bench-{name}", argv, cwd=code_dir, env=env, log_path=LOG_DIR / f"bench-{name}.log")
    proc.port = int(argv[argv.index("--port") + 1])
    proc.start()
    proc.wait_ready(url=f"http://127.0.0.1:{proc.port}{CHEAP}", timeout=30)
    return proc


# --- the report -------------------------------------------------------------------------


def ms(values: list[float]) -> str:
    p95 = percentile(values, 95)
    return f">={p95 * 1000:.0f} ms" if p95 >= PROBE_TIMEOUT else f"{p95 * 1000:.1f} ms"


def report(raw: float, results: list[Figures]) -> str:
    rows = [
        ("submit req/s (202s, flat out)", lambda f: f"{f.submits_per_second:.0f}"),
        ("  as % of raw apply_async rate", lambda f: f"{f.submits_per_second * 100 / raw:.0f}%"),
        ("CPU ms per accepted submit", lambda f: f"{f.cpu_ms_per_submit:.2f}"),
        ("cheap route p95, idle", lambda f: ms(f.idle)),
        ("cheap route p95, under submit load", lambda f: ms(f.loaded)),
        ("  loaded / idle", lambda f: f"x{percentile(f.loaded, 95) / percentile(f.idle, 95):.1f}"),
        ("cheap route p95, RabbitMQ frozen", lambda f: ms(f.frozen)),
        (
            "submits while frozen (status: count)",
            lambda f: ", ".join(f"{k}: {v}" for k, v in sorted(f.frozen_answers.items())),
        ),
    ]
    width = max(len(label) for label, _ in rows) + 2
    lines = [f"{'':<{width}}" + "".join(f"{f.name:>26}" for f in results)]
    for label, value in rows:
        lines.append(f"{label:<{width}}" + "".join(f"{value(f):>26}" for f in results))
    lines.append(f"raw apply_async publish rate, one process: {raw:.0f} tasks/s")
    if len(results) == 2:
        ref, naive = results
        lines.append(
            f"reference vs naive: submit rate x{ref.submits_per_second / max(naive.submits_per_second, 1e-9):.2f}, "
            f"frozen-broker p95 {percentile(naive.frozen, 95) / percentile(ref.frozen, 95):.0f} times better"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    lab = find_lab(args[0] if args else "02")
    naive = lab.dir / "bench" / "naive_app.py"
    if not naive.exists():
        print(f"lab {lab.id} has no benchmark (no {naive.relative_to(lab.dir.parent.parent)})")
        return 2
    if down := services_down(lab.needs):
        print("\n".join(down))
        return 3
    if ensure_test_vhost():
        print("RabbitMQ answers, but the test vhost could not be created: restart the stack with: make down up")
        return 3
    env = {**os.environ, **TEST_ENV, **lab.manifest.checkpoints.env, "PYTHONUNBUFFERED": "1"}
    code_dir = lab.solution_dir
    queues = lab.manifest.checkpoints.queues
    purge_queues(queues)
    print(f"[bench] lab {lab.id}: raw apply_async rate of one process ({RAW_PUBLISHES} tasks)...", flush=True)
    raw = raw_publish_rate(code_dir, env)
    purge_queues(queues)
    variants = {
        "reference (solution/)": (["uvicorn", "app.main:app"], env),
        "NAIVE (anti-pattern)": (
            ["uvicorn", "naive_app:app", "--app-dir", str(naive.parent)],
            {**env, "PYTHONPATH": str(code_dir)},
        ),
    }
    results = []
    for name, (command, variant_env) in variants.items():
        print(
            f"[bench] {name}: idle, flood ({LOAD_SECONDS:g} s), RabbitMQ frozen ({FREEZE_SECONDS:g} s)...", flush=True
        )
        argv_ = [*command, "--host", "127.0.0.1", "--port", str(free_port()), "--log-level", "warning"]
        proc = start_api(name.split()[0].lower(), argv_, code_dir, variant_env)
        try:
            results.append(measure(name, f"http://127.0.0.1:{proc.port}", proc.pid, queues))
        finally:
            proc.stop()
    print()
    print(report(raw, results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
