"""`make scale LAB=02 COMPARE=1`: the same Locust load through nginx on 1 and 3 API replicas, 1 and 3 workers.

One run, four shapes, one after the other: (API, workers) = (1, 1), (3, 1),
(1, 3), (3, 3). Each gets the lab's own Locust scenario (lab.toml
`[loadtest] scenario`, run by queuelabs/loadtest.py's machinery) with the same
users for the same time, through nginx on 127.0.0.1:8080, with the rate limit
raised so that it never answers 429 (the load is one client address). The
queues are emptied between shapes, so no shape inherits another's backlog.

For each shape: HTTP requests/s, p95 of the cheap read and of the submit,
tasks finished per second and their submit-to-SUCCESS p95, failures, and how
busy the machine's CPUs were. Ratios are against the (1, 1) row of the same run.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psutil

from ..isolation import purge_queues
from ..labs import Lab
from ..loadtest import REPORTS_DIR, run_locust, scenario_of
from ..locust_report import HTTP_METHODS, Row, read_round_trips, read_stats
from . import replicas

SHAPES = ((1, 1), (3, 1), (1, 3), (3, 3))
USERS, SPAWN_RATE, SECONDS = 60, 20, 25  # USERS: the default; `make scale COMPARE=1 USERS=200` for more
RATE_LIMIT = 5000  # requests/s: far above this load, so the measurement never meets a 429
READ, SUBMIT = "/api/items", "/api/async/process"


@dataclass(frozen=True)
class Measured:
    api: int
    workers: int
    requests_per_second: float
    read_p95: float
    submit_p95: float
    tasks_per_second: float
    task_p95: float
    failures: int
    cpu_percent: float


def _row(rows: list[Row], method: str, name: str) -> Row | None:
    return next((r for r in rows if r.method == method and r.name == name), None)


def measure(lab: Lab, api: int, workers: int, out: Path, env: dict[str, str], users: int) -> Measured:
    setup = replicas.start(lab, api, workers, rate=RATE_LIMIT, quiet=True)
    purge_queues(lab.manifest.checkpoints.queues, vhost=lab.corner("solution").vhost)
    prefix = out / f"api{api}-workers{workers}"
    psutil.cpu_percent(interval=None)  # starts the CPU clock
    run_locust(
        scenario_of(lab),
        host=setup.url,
        users=users,
        rate=max(SPAWN_RATE, users // 3),
        seconds=SECONDS,
        prefix=prefix,
        env=dict(env, QUEUELABS_API_URL=setup.url),
        label=f"{api} API replica(s), {workers} worker(s)",
    )
    cpu = psutil.cpu_percent(interval=None)
    stats = Path(f"{prefix}_stats.csv")
    rows = read_stats(stats) if stats.exists() else []
    http = [r for r in rows if r.method in HTTP_METHODS]
    read, submit = _row(rows, "GET", READ), _row(rows, "POST", SUBMIT)
    finished, failed, task_p95 = _round_trips(prefix)
    return Measured(
        api,
        workers,
        requests_per_second=sum(r.rps for r in http),
        read_p95=read.p95 if read else 0.0,
        submit_p95=submit.p95 if submit else 0.0,
        tasks_per_second=finished / SECONDS,
        task_p95=task_p95,
        failures=sum(r.failures for r in http) + failed,
        cpu_percent=cpu,
    )


def _round_trips(prefix: Path) -> tuple[int, int, float]:
    """(tasks finished, tasks failed, p95 in ms) of the scenario's submit -> SUCCESS round trips,
    from the `<prefix>_round_trips.csv` it writes (one row per kind of task: the p95 is the worst kind's)."""
    path = Path(f"{prefix}_round_trips.csv")
    kinds = read_round_trips(path) if path.exists() else []
    p95 = max((float(k["p95_s"]) for k in kinds if int(k["finished"])), default=0.0)
    return sum(int(k["finished"]) for k in kinds), sum(int(k["failed"]) for k in kinds), p95 * 1000


def table(results: list[Measured]) -> str:
    base = results[0]
    head = (
        f"{'API':>3} {'workers':>7} {'req/s':>7} {'x':>5} {'p95 GET items':>13} {'p95 submit':>10} "
        f"{'tasks/s':>7} {'x':>5} {'p95 task':>9} {'failed':>6} {'CPU busy':>8}"
    )
    lines = [head, "-" * len(head)]
    for m in results:
        lines.append(
            f"{m.api:>3} {m.workers:>7} {m.requests_per_second:>7.1f} {m.requests_per_second / base.requests_per_second:>4.2f}x "
            f"{m.read_p95:>10,.0f} ms {m.submit_p95:>7,.0f} ms {m.tasks_per_second:>7.2f} "
            f"{m.tasks_per_second / max(base.tasks_per_second, 1e-9):>4.2f}x {m.task_p95 / 1000:>7.1f} s "
            f"{m.failures:>6} {m.cpu_percent:>7.0f}%"
        )
    return "\n".join(lines)


def run(lab: Lab, rate: int | None = None, users: int | None = None) -> int:
    """Measure every shape, print the table, stop what was started. 0 when no request failed."""
    users = users or USERS
    if rate:
        print(f"[scale] note: the comparison sets its own rate limit ({RATE_LIMIT} r/s); --rate is ignored")
    if stopped := replicas.stop():
        print(f"[scale] stopped the running scale-out first: {', '.join(stopped)}")
    out = REPORTS_DIR / f"scale-lab{lab.id}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    cores = psutil.cpu_count()
    print(
        f"[scale] lab {lab.id}: {users} Locust users for {SECONDS} s per shape, through nginx, on {cores} CPU cores "
        f"shared by nginx, the APIs, the workers, RabbitMQ, Redis, MongoDB and Locust itself"
    )
    results = []
    started = time.monotonic()
    try:
        for api, workers in SHAPES:
            results.append(measure(lab, api, workers, out, env, users))
    finally:
        replicas.stop()
    print(
        f"\nLab {lab.id} through nginx, {users} users, {SECONDS} s per shape, {cores} cores ({time.monotonic() - started:.0f} s in all):"
    )
    print(table(results))
    print(
        "x: against the first row of this run. p95 task: submit to SUCCESS, queueing included (the worst priority's)."
    )
    print(f"Reports: {out.relative_to(REPORTS_DIR.parent.parent)}/*.html")
    return 1 if any(m.failures for m in results) else 0
