"""`make bench LAB=05`: what the cluster costs, one node against three, in one run.

Two systems side by side, each an API, a worker and the payment service:

- ONE NODE: lab 04's reference on the single-node stack (`make up`);
- CLUSTER: lab 05's reference, the same code on `make cluster` (quorum queues
  replicated on three RabbitMQ nodes, a MongoDB replica set of three, Redis
  behind the Sentinels).

Each in a corner of its own (vhost `queuelabs-bench`, Redis database 11,
MongoDB database `queuelabs_bench`), the task's work set to nothing
(TASK_STEP_SECONDS=0) so what is measured is the system's overhead. In each
round, the two in turn (their order alternating):

1. the submit rate: the API flooded with submissions for LOAD_SECONDS (the
   worker stopped with SIGSTOP meanwhile, the queue purged afterwards);
2. one task at a time: how long the API takes to answer 202 (a publish confirmed
   by RabbitMQ: on a quorum queue, by a majority of the nodes) and how long
   until its status reads SUCCESS (queue, worker, payment, MongoDB, Redis).

Every ratio is taken within a round; the report gives medians over the rounds.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field

import httpx

from .. import faults
from ..chaos.system import System
from ..cluster.clients import client_env
from ..cluster.clients import down as cluster_down
from ..labs import find_lab
from ..probes import services_down
from ..timing import percentile
from .load import BODY, SUBMIT, Flood
from .measure import FLOOD_CONNECTIONS, LOAD_SECONDS
from .report import spread

VHOST = "queuelabs-bench"
REDIS_DB = 11  # the room has 12, make chaos 13, the checkpoints 15
MONGODB_DB = "queuelabs_bench"
COMMON = {"TASK_STEP_SECONDS": "0", "MONGODB_DB": MONGODB_DB}
TASKS_PER_ROUND = 20
POLL_SECONDS = 0.01
TASK_LIMIT_SECONDS = 60  # a task that has not ended by then is stuck: the run stops, saying which side


@dataclass
class Side:
    name: str
    system: System
    rates: list[float] = field(default_factory=list)  # accepted submits per second, per round
    accept: list[list[float]] = field(default_factory=list)  # seconds to a 202, one list per round
    latency: list[list[float]] = field(default_factory=list)  # seconds from the submit to SUCCESS, per round


def sides() -> list[Side]:
    single = {
        **COMMON,
        "CELERY_BROKER_URL": f"amqp://guest:guest@127.0.0.1:5672/{VHOST}",
        "REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "CELERY_RESULT_BACKEND": f"redis://127.0.0.1:6379/{REDIS_DB}",
    }
    clustered = {**COMMON, **client_env(VHOST, REDIS_DB, MONGODB_DB)}
    return [
        Side("ONE NODE (lab 04)", System(find_lab("04"), vhost=VHOST, label="-bench", env=single)),
        Side("CLUSTER (lab 05)", System(find_lab("05"), vhost=VHOST, label="-bench", env=clustered)),
    ]


def flood(side: Side, connections: int) -> None:
    system = side.system
    with faults.frozen(system.procs["worker"].pid):  # the queue fills; nobody takes from it
        with Flood(system.procs["api"].url, connections, LOAD_SECONDS) as load:
            time.sleep(LOAD_SECONDS)  # the flood ends on its own at LOAD_SECONDS, or when the block does
        system.purge_queues(system.queues, vhost=system.vhost)
    side.rates.append(load.counts.get("202", 0) / LOAD_SECONDS)


def one_at_a_time(side: Side) -> None:
    accept, latency = [], []
    with httpx.Client(base_url=side.system.procs["api"].url, timeout=30) as http:
        for _ in range(TASKS_PER_ROUND):
            start = time.perf_counter()
            response = http.post(SUBMIT, json=BODY)
            accepted = time.perf_counter()
            if response.status_code != 202:
                continue
            task_id = response.json()["task_id"]
            while http.get(f"/api/async/status/{task_id}").json().get("status") not in ("SUCCESS", "FAILURE"):
                if time.perf_counter() - start > TASK_LIMIT_SECONDS:
                    raise SystemExit(f"bench: {side.name}: a task did not end within {TASK_LIMIT_SECONDS} s")
                time.sleep(POLL_SECONDS)
            accept.append(accepted - start)
            latency.append(time.perf_counter() - start)
    side.accept.append(accept)
    side.latency.append(latency)


def ratio(cluster: list[float], single: list[float]) -> str:
    return "x" + spread([c / max(s, 1e-9) for c, s in zip(cluster, single, strict=True)], ".2f")


def report(single: Side, cluster: Side, connections: int, rounds: int) -> str:
    def p(side: Side, which: str, pct: float) -> list[float]:
        return [percentile(values, pct) * 1000 for values in getattr(side, which)]

    rows = [("submit req/s (202s, flat out)", single.rates, cluster.rates, ".0f")]
    for which, label in (("accept", "POST answered 202"), ("latency", "submit to SUCCESS")):
        rows.append((f"{label}, median ms", p(single, which, 50), p(cluster, which, 50), ".1f"))
        rows.append((f"{label}, p95 ms", p(single, which, 95), p(cluster, which, 95), ".1f"))
    width = max(len(label) for label, *_ in rows) + 2
    lines = [f"{'':<{width}}{single.name:>24}{cluster.name:>24}{'cluster / one node':>24}"]
    for label, a, b, fmt in rows:
        lines.append(f"{label:<{width}}{spread(a, fmt):>24}{spread(b, fmt):>24}{ratio(b, a):>24}")
    lines.append(
        f"{rounds} round(s): medians (and ranges) over the rounds, each ratio taken within a round; "
        f"flat out = {connections} connections for {LOAD_SECONDS:g} s; one at a time = {TASKS_PER_ROUND} tasks "
        "per round, no work in the task (TASK_STEP_SECONDS=0), the payment service never failing"
    )
    return "\n".join(lines)


def run(*, connections: int = FLOOD_CONNECTIONS, rounds: int = 3) -> int:
    if down := services_down(("rabbitmq", "redis", "mongodb")):
        print("\n".join(down) + " (the ONE NODE side runs on make up's stack)")
        return 3
    if problem := cluster_down():
        print(problem)
        return 3
    single, cluster = sides()
    print(f"[bench] lab 05: {rounds} rounds; lab 04's reference on one node, lab 05's on make cluster", flush=True)
    try:
        for side in (single, cluster):
            side.system.up()
            one_at_a_time(side)  # warm up: connections, caches, the first declarations
            side.accept.clear()
            side.latency.clear()
        for number in range(1, rounds + 1):
            order = (single, cluster) if number % 2 else (cluster, single)
            print(
                f"[bench] round {number}/{rounds}: each flooded, then {TASKS_PER_ROUND} tasks one at a time", flush=True
            )
            for side in order:
                flood(side, connections)
            for side in order:
                one_at_a_time(side)
    finally:
        for side in (single, cluster):
            side.system.down()
    print()
    print(report(single, cluster, connections, rounds))
    rate = statistics.median(c / s for c, s in zip(cluster.rates, single.rates, strict=True))
    print(f"the cluster accepted x{rate:.2f} the submissions per second of one node")
    return 0
