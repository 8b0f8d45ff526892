"""Lab 05's fixtures: lab 04's (the flaky payment service, a worker that charges it, the API
as the checkpoints use it), plus `nodes`: kill a node of `make cluster` and have it back after the test.

The real-component fixtures (api, worker, fresh_stack...) come from the testing
package and read this lab's lab.toml. Here: `downstream`, the lab's payment
service (one process for the lab's part of the run, its ledger emptied before
each test), and `lab_worker`, the plugin's worker pointed at that service.
"""

from __future__ import annotations

import functools
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx
import pytest

from queuelabs import faults
from queuelabs.processes import read_pid
from queuelabs.settings import CLUSTER, TEST_VHOST
from queuelabs.testing.checks import check_response, fail_if_not_started, patience
from queuelabs.testing.spawn import Worker, lab_process_starter

_SERVICES: dict[int, Downstream] = {}


class Downstream:
    """The payment service's control and ledger, over HTTP."""

    def __init__(self, url: str):
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=10)

    def reset(self) -> None:
        self.http.delete("/charges").raise_for_status()

    def faults(self, **settings: float) -> None:
        self.http.put("/faults", json=settings).raise_for_status()

    def ledger(self) -> dict:
        return self.http.get("/charges").json()

    def charges_of(self, reference: str) -> list[dict]:
        return [c for c in self.ledger()["charges"] if c["reference"] == reference]

    def charges_for(self, reference: str) -> int:
        return len(self.charges_of(reference))

    def duplicated(self) -> dict[str, int]:
        """References charged more than once: the effect this lab forbids."""
        counts = Counter(c["reference"] for c in self.ledger()["charges"])
        return {ref: n for ref, n in counts.items() if n > 1}


@pytest.fixture
def downstream(fresh_stack, lab_run, session_lab_process) -> Downstream:
    service = _SERVICES.get(id(lab_run))
    if service is None:
        service = _SERVICES[id(lab_run)] = Downstream(session_lab_process("downstream").url)
    service.reset()  # before, not after, each test: a failed test's ledger can still be read
    return service


@pytest.fixture
def lab_worker(fresh_stack, lab_run, downstream) -> Worker:
    """The lab's worker process (not started yet), charging the test's payment service."""
    if lab_run.worker is None:
        start = lab_process_starter(lab_run.lab, lab_run.spawner)
        lab_run.worker = Worker(functools.partial(start, env={"DOWNSTREAM_URL": downstream.url}))
    return lab_run.worker


class ChargeApi:
    """Lab 04's API, as the checkpoints use it: submit charges, wait for their end."""

    def __init__(self, url: str):
        self.http = httpx.Client(base_url=url, timeout=patience(15))

    def submit(self, data: str = "order", iterations: int = 2, key: str | None = None) -> httpx.Response:
        headers = {"Idempotency-Key": key} if key else {}
        return self.http.post("/api/async/process", json={"data": data, "iterations": iterations}, headers=headers)

    def task_id(self, data: str = "order", iterations: int = 2) -> str:
        response = check_response(self.submit(data, iterations), expected=202)
        return response.json()["task_id"]

    def status(self, task_id: str) -> dict:
        return check_response(self.http.get(f"/api/async/status/{task_id}"), expected=200).json()

    def wait_done(
        self,
        task_ids: list[str],
        *,
        timeout: float = 25.0,
        stall: float = 8.0,
        want: str | None = "SUCCESS",
        advice: str = "",
    ) -> dict[str, dict]:
        """Poll until every task is SUCCESS or FAILURE; their last answers. Fails after `timeout`, or
        sooner when nothing moved (no status or attempt count changed) for `stall` seconds. `advice`
        ends the message of a task that ended in the wrong state: what to fix."""
        timeout, stall = patience(timeout), patience(stall)  # a busy machine runs the same work slower
        done: dict[str, dict] = {}
        last: dict[str, dict] = {}
        deadline = time.monotonic() + timeout
        moved_at, seen = time.monotonic(), None
        while len(done) < len(task_ids):
            for task_id in task_ids:
                if task_id not in done:
                    body = last[task_id] = self.status(task_id)
                    if body["status"] in ("SUCCESS", "FAILURE"):
                        fail_if_not_started(body.get("error", ""))
                        done[task_id] = body
            now = time.monotonic()
            signature = [(last[t]["status"], last[t].get("attempts")) for t in task_ids]
            if signature != seen:
                moved_at, seen = now, signature
            if now > deadline or now - moved_at > stall:
                stuck = Counter(last[t]["status"] for t in task_ids if t not in done)
                why = f"within {timeout:g} s" if now > deadline else f"(nothing moved for {stall:g} s)"
                raise AssertionError(
                    f"{len(task_ids) - len(done)} of {len(task_ids)} tasks did not finish {why}, "
                    f"still {dict(stuck)}: lost, waiting a long retry, or stuck on something that never answers"
                )
            time.sleep(0.1)
        if want is not None:
            wrong = {t: b for t, b in done.items() if b["status"] != want}
            if wrong:
                example = next(iter(wrong.values()))
                error = example.get("error") or f"after {example.get('attempts')} attempt(s)"
                raise AssertionError(
                    f"{len(wrong)} task(s) ended {example['status']}, not {want}: "
                    + (f"{advice} ({error})" if advice else error)
                )
        return done


@pytest.fixture
def charges(api) -> ChargeApi:
    return ChargeApi(api)


class Nodes:
    """Kill nodes of `make cluster` for real (SIGKILL, by pid); bring them back after the test."""

    def __init__(self):
        self.killed: list[str] = []

    def kill_rabbitmq(self, node) -> None:
        from queuelabs.cluster import rabbitmq

        pid = rabbitmq.beam_pid(node)
        if pid is None:
            pytest.fail(f"RabbitMQ node {node.number} is not running: make cluster", pytrace=False)
        os.kill(pid, signal.SIGKILL)
        self.killed.append(node.name)

    def mongodb_primary(self) -> int:
        """The number (1, 2, 3) of the replica set's primary member now."""
        from queuelabs.cluster import mongodb

        states = mongodb.member_states()
        for number, port in enumerate(CLUSTER.mongodb, 1):
            if states.get(f"127.0.0.1:{port}") == "PRIMARY":
                return number
        pytest.fail(f"the replica set has no primary ({states}): make cluster", pytrace=False)

    def kill_mongodb(self, number: int) -> None:
        from queuelabs.cluster import mongodb

        os.kill(read_pid(mongodb.name(number)), signal.SIGKILL)
        self.killed.append(mongodb.name(number))

    @contextmanager
    def frozen_mongodb(self, numbers: list[int]) -> Iterator[None]:
        """SIGSTOP these members (they answer nothing, replicate nothing); always thawed after the block."""
        from queuelabs.cluster import mongodb

        with ExitStack() as stack:
            for number in numbers:
                stack.enter_context(faults.frozen(read_pid(mongodb.name(number))))
            yield

    def restore(self) -> None:
        """`make cluster` again: the killed nodes come back and rejoin (the others are reused)."""
        if self.killed:
            from queuelabs import cluster

            cluster.up()


@pytest.fixture
def nodes():
    killer = Nodes()
    yield killer
    killer.restore()


@pytest.fixture
def queues_on_node_3(fresh_stack, celery_app):
    """Declare the graded code's task queues through node 3, so a queue (a classic one, or a quorum
    queue's leader) lives on a node that neither the API nor the worker (both on node 1 first) uses."""
    from kombu import Connection

    from queuelabs.cluster import rabbitmq

    node = rabbitmq.NODES[2]
    with Connection(f"amqp://guest:guest@127.0.0.1:{node.port}/{TEST_VHOST}", connect_timeout=10) as connection:
        for queue in celery_app.conf.task_queues:
            queue(connection.default_channel).declare()
    return node
