"""One lab's reference solution, run as processes in the chaos suite's own corner of the stack."""

from __future__ import annotations

import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from pymongo import MongoClient

from queuelabs import isolation, stack
from queuelabs.labs import Lab
from queuelabs.processes import ManagedProcess, free_port
from queuelabs.settings import LOG_DIR, TEST_ENV

VHOST = "queuelabs-chaos"
ENV = {
    **TEST_ENV,
    "MONGODB_DB": "queuelabs_chaos",
    "REDIS_URL": "redis://127.0.0.1:6379/13",
    "CELERY_RESULT_BACKEND": "redis://127.0.0.1:6379/13",
    "CELERY_BROKER_URL": f"amqp://guest:guest@127.0.0.1:5672/{VHOST}",
    "PYTHONUNBUFFERED": "1",
    # Short work, real outages. Enough retries to outlast a 25 s outage (lab 04).
    "TASK_STEP_SECONDS": "0.05",
    "EMAIL_SECONDS": "0.05",
    "RETRY_BASE_SECONDS": "0.5",
    "RETRY_CAP_SECONDS": "10",
    "MAX_RETRIES": "10",
}
HEADER = ("fault", "accepted", "succeeded", "dead-lettered", "lost", "not finished", "duplicated effects", "503 s")
ENDED = ("SUCCESS", "FAILURE")
# Where each lab's worker stores a task's result (lab 03: Django's table for jobs.TaskResult).
RESULTS = {"02": "task_results", "03": "jobs_taskresult", "04": "task_results", "05": "task_results"}
# A lab on `make cluster` (lab 05): the same corner (vhost, Redis database 13, MongoDB database) on its nodes.
CHAOS_REDIS_DB = 13


def refused_seconds(answers: list[tuple[float, bool]]) -> float:
    """How long the API refused: from each first refusal (503, or no answer) to the next 202, added up.
    `answers`: (when it answered, accepted) for every submission of a row."""
    total, since, last = 0.0, None, None
    for when, accepted in sorted(answers):
        if not accepted and since is None:
            since = when
        elif accepted and since is not None:
            total, since = total + when - since, None
        last = when
    return total + (last - since if since is not None else 0.0)


@dataclass
class Settled:
    states: dict[str, str]
    work_left: bool  # the wait ended with work still queued: what did not end is not finished, not lost
    waited: float


class System:
    """One lab's reference: its API, worker and (lab 04) payment service, as processes.

    `code_dir`: another copy of the reference (lab 05's with classic queues), in a vhost of its own;
    `env`: what changes in the processes' environment (another corner of the servers)."""

    def __init__(
        self, lab: Lab, code_dir: Path | None = None, vhost: str = VHOST, label: str = "", env: dict | None = None
    ):
        self.lab, self.procs = lab, {}
        self.code_dir, self.vhost, self.label = code_dir or lab.solution_dir, vhost, label
        self.downstream = "downstream" in lab.processes
        self.cluster = "cluster" in lab.needs
        self.env = dict(ENV)
        if self.cluster:
            from queuelabs.cluster.clients import client_env

            self.env.update(client_env(vhost, CHAOS_REDIS_DB, ENV["MONGODB_DB"]))
        self.env.update(env or {})  # another corner (make bench LAB=05's)
        self.answers: list[tuple[float, bool]] = []  # every submission of the row: (when, accepted)
        self.refusals: Counter[str] = Counter()
        self.after_row: list[Callable[[], None]] = []  # undone once the row is counted (a node restarted)
        self.queues = lab.manifest.checkpoints.queues
        if self.cluster:
            from queuelabs.cluster import clients as admin
        else:
            admin = isolation
        self.queue_info, self.purge_queues, self.delete_queues = (
            admin.queue_info,
            admin.purge_queues,
            admin.delete_queues,
        )

    def start(self, name: str, extra: tuple[str, ...] = ()) -> ManagedProcess:
        port = free_port() if self.lab.processes[name].port else None
        argv = self.lab.command(name, port=port, host="127.0.0.1") + list(extra)
        env = dict(self.env)
        if self.downstream and name != "downstream":
            env["DOWNSTREAM_URL"] = self.procs["downstream"].url
        log = LOG_DIR / "chaos" / f"lab{self.lab.id}{self.label}-{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        proc = ManagedProcess(name, argv, cwd=self.code_dir, env=env, log_path=log)
        proc.url = f"http://127.0.0.1:{port}" if port else None
        proc.start().wait_ready(port=port, log_text=" ready." if name == "worker" else None, timeout=60)
        self.procs[name] = proc
        return proc

    def start_worker(self) -> None:
        self.start("worker", ("--concurrency=2", f"--hostname=chaos-{uuid.uuid4().hex[:6]}@%h"))

    def up(self) -> None:
        if self.cluster:  # the queues' type and their exchanges' start afresh too (classic or quorum)
            from queuelabs.cluster.clients import delete_exchanges, ensure_vhost

            ensure_vhost(self.vhost)
            delete_exchanges(self.vhost)
        elif problem := stack.ensure_vhost(self.vhost):
            sys.exit(f"chaos: {problem}")
        self.delete_queues(self.queues, vhost=self.vhost)
        if self.downstream:
            self.start("downstream")
        self.start("api")
        self.start_worker()
        self.http = httpx.Client(base_url=self.procs["api"].url, timeout=10)

    def down(self) -> None:
        for proc in reversed(list(self.procs.values())):
            proc.stop()

    def submit(self, iterations: int, key: str | None = None, data: str = "chaos") -> str | None:
        """The task id of a 202, or None (refused, or no answer: not accepted)."""
        headers = {"Idempotency-Key": key} if key else {}
        body = {"data": data, "iterations": iterations}
        try:
            response = self.http.post("/api/async/process", json=body, headers=headers)
        except httpx.HTTPError:
            self.answers.append((time.monotonic(), False))
            self.refusals["no answer"] += 1
            return None
        self.answers.append((time.monotonic(), response.status_code == 202))
        if response.status_code != 202:  # why, in the API's words: printed under the row
            self.refusals[f"{response.status_code} {response.text[:90]}"] += 1
        return response.json()["task_id"] if response.status_code == 202 else None

    def states(self, task_ids: list[str]) -> dict[str, str]:
        out = {}
        for task_id in task_ids:
            try:
                out[task_id] = self.http.get(f"/api/async/status/{task_id}").json().get("status", "?")
            except (httpx.HTTPError, ValueError):
                out[task_id] = "?"
        return out

    def work_left(self) -> int:
        """Messages still in the lab's queues, ready or held by a worker (RabbitMQ's count, a few s late)."""
        return sum((self.queue_info(name, self.vhost) or {}).get("messages") or 0 for name in self.queues)

    def settle(self, task_ids: list[str], idle: float = 20, stall: float = 180, limit: float = 1800) -> Settled:
        """Wait as long as the work needs: until every task ended, or the queues have been empty and
        no state changed for `idle` s (what did not end by then never will: lost), or nothing at all
        moved for `stall` s, or `limit` s passed (what did not end then is only not finished)."""
        start = time.monotonic()
        moved, last = start, None
        while True:
            states, left = self.states(task_ids), self.work_left()
            now = time.monotonic()
            if (states, left) != last:
                last, moved = (states, left), now
            if all(s in ENDED for s in states.values()):
                return Settled(states, work_left=False, waited=now - start)
            if left == 0 and now - moved > idle:
                return Settled(states, work_left=False, waited=now - start)
            if now - moved > stall or now - start > limit:
                return Settled(states, work_left=True, waited=now - start)
            time.sleep(1)

    def at_work_with_queued(self, task_ids: list[str], timeout: float = 300) -> int:
        """Wait until the worker has started one of the tasks; how many are still PENDING (queued,
        unfinished) at that moment: a fault applied now provably meets queued work."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = self.states(task_ids)
            if any(s != "PENDING" for s in states.values()):
                return sum(s == "PENDING" for s in states.values())
            time.sleep(0.2)
        sys.exit(f"chaos: no task of {len(task_ids)} started within {timeout:g} s: is the worker consuming?")

    def dead_letters(self) -> set[str]:
        if not self.downstream:  # lab 02 has no dead-letter queue
            return set()
        response = self.http.get("/api/dead-letters", params={"limit": 1000}, timeout=60)
        if response.status_code != 200:  # the dead-letter queue lives on a node that is down (a classic queue)
            print(
                f"[chaos]   the dead letters cannot be read: {response.status_code} {response.text[:150]}", flush=True
            )
            return set()
        return {letter["task_id"] for letter in response.json()["dead_letters"]}

    def effects(self, task_ids: list[str], succeeded: set[str]) -> tuple[int, set[str]]:
        """Duplicated effects among these tasks (charges per task, lab 04; stored results per task), and
        the succeeded tasks whose result is not stored (a write a MongoDB failover rolled back)."""
        wanted, dup = set(task_ids), 0
        if self.downstream:
            charges = httpx.get(f"{self.procs['downstream'].url}/charges", timeout=30).json()["charges"]
            dup += sum(n - 1 for ref, n in Counter(c["reference"] for c in charges).items() if ref in wanted and n > 1)
        with MongoClient(self.env["MONGODB_URL"], serverSelectionTimeoutMS=30_000) as mongo:
            results = mongo[self.env["MONGODB_DB"]][RESULTS[self.lab.id]]
            field = "_id" if self.lab.id == "03" else "task_id"  # Django keeps the task id as the primary key
            stored = Counter(d[field] for d in results.find({field: {"$in": list(wanted)}}, {field: 1}))
        if succeeded and not stored:  # a wrong collection would count no duplicate, silently
            sys.exit(f"chaos: none of {len(succeeded)} succeeded tasks has a result in {RESULTS[self.lab.id]!r}")
        return dup + sum(n - 1 for n in stored.values() if n > 1), succeeded - set(stored)

    def reset_row(self) -> None:
        self.answers.clear()
        self.refusals.clear()
        self.purge_queues(self.queues, vhost=self.vhost)
        if self.downstream:
            ds = self.procs["downstream"].url
            httpx.delete(f"{ds}/charges", timeout=10)
            httpx.put(f"{ds}/faults", json={"fail_rate": 0.1}, timeout=10)  # a flaky service, always
