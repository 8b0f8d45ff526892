"""`make demo`: bring the stack and the finished lab 02 up, then show, in the
terminal, what the queue buys: the API answers in milliseconds while the work
takes seconds, and progress arrives while it runs."""

from __future__ import annotations

import statistics
import time

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import demo_priority, stack
from .errors import StackError
from .labs import find_lab
from .processes import http_status
from .runner import start_lab
from .waiting import eventually

console = Console()
# (priority, iterations). More tasks than the worker has slots (--concurrency=2),
# the low ones submitted first: the high ones, submitted last, finish before the
# low ones still waiting in the queue. That is what a priority queue is for.
TASKS = [("low", 4)] * 4 + [("high", 4)] * 2


def _start_lab(lab, probe_path: str) -> str:
    """Reuse the lab's reference when it answers; else start it in the background. It runs on its
    own ports and data (settings.CORNERS), beside your own code's, which it never touches."""
    base = lab.url("solution")
    if _answers(f"{base}{probe_path}"):
        console.print(f"Lab {lab.id}'s reference already answers on {base}: using it")
        return base
    start_lab(lab, "solution")
    console.print(
        f"Lab {lab.id}'s reference solution is running on {base} "
        f"(logs: make logs NAME={lab.corner('solution').prefix}; `make lab{lab.id}` runs your code on {lab.url()})"
    )
    return base


def _show_the_freeze() -> None:
    """Lab 01 in one table: /ping while slow reports run, blocking vs awaited."""
    base = _start_lab(find_lab("01"), "/ping")
    eventually(lambda: _answers(f"{base}/ping"), timeout=60, interval=0.3)
    table = Table(title="GET /ping while 3 slow reports (1 s each) are running")
    table.add_column("the slow report is")
    table.add_column("median /ping", justify="right")
    for variant, meaning in (("blocking", "time.sleep inside async def"), ("fixed", "await asyncio.sleep")):
        table.add_row(f"{variant} ({meaning})", f"{_ping_while_busy(base, variant):.0f} ms")
    console.print(table)
    console.print("A blocked event loop freezes every request on the server. Lab 01 shows why; lab 02 fixes it.")


def _ping_while_busy(base: str, variant: str) -> float:
    """Median /ping latency, probes sent on a clock while 3 slow reports run.

    Each probe goes out at its own time, in its own thread: sent one after
    another, only the first would meet the freeze and the rest would measure
    the calm after it."""
    import threading

    def timed_get(url: str, delay: float, out: list[float]) -> None:
        time.sleep(delay)
        started = time.perf_counter()
        httpx.get(url, timeout=30)
        out.append((time.perf_counter() - started) * 1000)

    ignored: list[float] = []
    timings: list[float] = []
    threads = [
        threading.Thread(target=timed_get, args=(f"{base}/report/sleep/{variant}?seconds=1", 0, ignored))
        for _ in range(3)
    ]
    threads += [threading.Thread(target=timed_get, args=(f"{base}/ping", 0.1 + 0.15 * i, timings)) for i in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statistics.median(timings)


def _answers(url: str) -> bool:
    return http_status(url, timeout=2) is not None


def _wait_healthy(base: str, timeout: float = 60, lab_id: str = "02") -> dict:
    last: dict = {}

    def healthy() -> bool:
        try:
            reply = httpx.get(f"{base}/health", timeout=3)
            last["body"] = reply.json()
            return reply.status_code == 200
        except (httpx.HTTPError, ValueError):
            return False

    with console.status("Waiting for the API and a worker to answer /health ..."):
        if eventually(healthy, timeout=timeout, interval=0.5):
            return last["body"]
    raise StackError(
        f"lab {lab_id} is not healthy after {timeout:g} s ({last.get('body')}): see `make logs NAME=lab{lab_id}`"
    )


def run_demo(batch: int = 0) -> int:
    lab = find_lab("02")
    console.rule("[bold]Queue Labs demo")
    console.print("1. The stack: RabbitMQ (broker), Redis (results, progress), MongoDB (data)")
    stack.up()
    console.print("\n2. The problem (lab 01): work done inside the request")
    _show_the_freeze()
    console.print("\n3. The fix (lab 02): FastAPI + Celery, the finished system")
    base = _start_lab(lab, "/health")
    health = _wait_healthy(base)
    console.print(f"GET /health -> {health.get('status')}: {health.get('services')}")

    console.print("\n4. Submit heavy tasks. Watch how long the API takes to answer:")
    submitted = []
    with httpx.Client(base_url=base, timeout=10) as client:
        for priority, iterations in TASKS:
            started = time.perf_counter()
            reply = client.post(
                "/api/async/process", json={"data": f"demo {priority}", "iterations": iterations, "priority": priority}
            )
            took_ms = (time.perf_counter() - started) * 1000
            reply.raise_for_status()
            task_id = reply.json()["task_id"]
            submitted.append((task_id, priority, iterations, took_ms))
            console.print(
                f"  #{len(submitted)} POST /api/async/process priority={priority:<6} -> {reply.status_code} "
                f"in {took_ms:6.1f} ms  task {task_id[:8]}"
            )

        console.print("\n5. The worker does the work; the API reports progress as it goes:")
        work_started = time.perf_counter()
        finished = _watch(client, submitted)
        work_s = time.perf_counter() - work_started

    submit_ms = statistics.median(t[3] for t in submitted)
    table = Table(title="What the queue buys")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("median time for the API to accept a task", f"{submit_ms:.1f} ms")
    table.add_row("time for the worker to finish them all", f"{work_s:.1f} s")
    table.add_row("finishing order", " -> ".join(finished))
    console.print(table)
    console.print(demo_priority.why(finished))
    if batch:
        demo_priority.watch_a_batch(base, batch)

    console.print("\n6. The same contract, the Django way (lab 03): Django + DRF on gunicorn, the same queues")
    django = _show_django()

    console.print("\n7. Look around (the references keep running, each lab on its own ports and data):")
    console.print(f"  lab 01 app           {find_lab('01').url('solution')}/docs")
    console.print(f"  lab 02 API docs      {base}/docs")
    console.print(f"  lab 03 API docs      {django}/docs  (the admin: {django}/admin/)")
    console.print("  RabbitMQ management  http://127.0.0.1:15672  (guest / guest): Queues tab")
    console.print(f"  Flower (lab 02)      {lab.url('solution', 'flower')}: Tasks tab")
    if not batch:
        console.print("  To watch a queue fill and drain: `make demo BATCH=200`")
    console.print("\nNext: read labs/01-sync-vs-async/README.md, then `make check LAB=01`.")
    console.print("Stop everything with `make down`.")
    return 0


def _show_django() -> str:
    """Lab 03's reference answers lab 02's requests the same way; returns its base URL."""
    lab = find_lab("03")
    base = _start_lab(lab, "/health")
    _wait_healthy(base, lab_id="03")
    table = Table(title=f"Lab 02's requests, answered by Django on {base}")
    table.add_column("request")
    table.add_column("answer")
    with httpx.Client(base_url=base, timeout=10) as client:
        started = time.perf_counter()
        reply = client.post("/api/async/process", json={"data": "demo django", "iterations": 4, "priority": "high"})
        took_ms = (time.perf_counter() - started) * 1000
        location = reply.headers.get("location", "")
        table.add_row("POST /api/async/process", f"{reply.status_code} in {took_ms:.1f} ms, Location {location}")
        state: dict = {}

        def finished() -> bool:
            state.update(client.get(location).json())
            return state.get("status") in ("SUCCESS", "FAILURE")

        started = time.perf_counter()
        eventually(finished, timeout=60, interval=0.2)
        result = state.get("result") or {}
        table.add_row(
            f"GET {location[:24]}...",
            f"{state.get('status')} after {time.perf_counter() - started:.1f} s: total {result.get('total')}, "
            f"processed_items[0] {(result.get('processed_items') or ['?'])[0]!r}",
        )
        for method, path, body in (
            ("GET", "/api/async/status/never-submitted", None),
            ("POST", "/api/async/process", {"data": "x", "iterations": 0}),
            ("POST", "/api/send-welcome-email?user_email=ada@example.com&user_name=Ada", None),
        ):
            reply = client.request(method, path, json=body)
            shown = f"Location {reply.headers.get('location')}" if reply.status_code == 202 else reply.text[:90]
            table.add_row(
                f"{method} {path.split('?')[0]}{'?user_email=...' if '?' in path else ''}",
                f"{reply.status_code} {shown}",
            )
    console.print(table)
    console.print("FastAPI answers bad input with 422, DRF with 400; every other answer is the same contract.")
    return base


def _watch(client: httpx.Client, submitted) -> list[str]:
    """Poll every task's status and draw one progress bar per task."""
    finished: list[str] = []
    columns = (
        TextColumn("{task.description:<22}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[state]:<9}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        bars = {
            tid: progress.add_task(f"#{n} {prio:<6} x{its:<3} {tid[:8]}", total=100, state="PENDING")
            for n, (tid, prio, its, _) in enumerate(submitted, 1)
        }

        def poll_once() -> bool:
            for n, (tid, prio, _, _) in enumerate(submitted, 1):
                if f"{prio} #{n}" in finished:
                    continue
                body = client.get(f"/api/async/status/{tid}").json()
                state = body.get("status", "?")
                percent = (body.get("progress") or {}).get("percent", 0)
                if state in ("SUCCESS", "FAILURE"):
                    percent = 100
                    finished.append(f"{prio} #{n}")
                progress.update(bars[tid], completed=percent, state=state)
            return len(finished) == len(submitted)

        eventually(poll_once, timeout=180, interval=0.2)
    return finished
