"""One lab's reference solution, run as processes in the chaos suite's own corner of the stack."""

from __future__ import annotations

import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass

import httpx
from pymongo import MongoClient

from queuelabs import stack
from queuelabs.isolation import delete_queues, purge_queues, queue_info
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
HEADER = ("fault", "accepted", "succeeded", "dead-lettered", "lost", "not finished", "duplicated effects")
ENDED = ("SUCCESS", "FAILURE")
# Where each lab's worker stores a task's result (lab 03: Django's table for jobs.TaskResult).
RESULTS = {"02": "task_results", "03": "jobs_taskresult", "04": "task_results"}


@dataclass
class Settled:
    states: dict[str, str]
    work_left: bool  # the wait ended with work still queued: what did not end is not finished, not lost
    waited: float


class System:
    """One lab's reference: its API, worker and (lab 04) payment service, as processes."""

    def __init__(self, lab: Lab):
        self.lab, self.procs = lab, {}
        self.downstream = "downstream" in lab.processes

    def start(self, name: str, extra: tuple[str, ...] = ()) -> ManagedProcess:
        port = free_port() if self.lab.processes[name].port else None
        argv = self.lab.command(name, port=port, host="127.0.0.1") + list(extra)
        env = dict(ENV)
        if self.downstream and name != "downstream":
            env["DOWNSTREAM_URL"] = self.procs["downstream"].url
        log = LOG_DIR / "chaos" / f"lab{self.lab.id}-{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        proc = ManagedProcess(name, argv, cwd=self.lab.solution_dir, env=env, log_path=log)
        proc.url = f"http://127.0.0.1:{port}" if port else None
        proc.start().wait_ready(port=port, log_text=" ready." if name == "worker" else None, timeout=60)
        self.procs[name] = proc
        return proc

    def start_worker(self) -> None:
        self.start("worker", ("--concurrency=2", f"--hostname=chaos-{uuid.uuid4().hex[:6]}@%h"))

    def up(self) -> None:
        problem = stack.ensure_vhost(VHOST)
        if problem:
            sys.exit(f"chaos: {problem}")
        delete_queues(self.lab.manifest.checkpoints.queues, vhost=VHOST)
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
            return None
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
        return sum((queue_info(name, VHOST) or {}).get("messages", 0) for name in self.lab.manifest.checkpoints.queues)

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
        body = self.http.get("/api/dead-letters", params={"limit": 1000}, timeout=60).json()
        return {letter["task_id"] for letter in body["dead_letters"]}

    def effects(self, task_ids: list[str], succeeded: int) -> int:
        """Duplicated effects among these tasks: charges per task (lab 04), stored results per task."""
        wanted, dup = set(task_ids), 0
        if self.downstream:
            charges = httpx.get(f"{self.procs['downstream'].url}/charges", timeout=30).json()["charges"]
            dup += sum(n - 1 for ref, n in Counter(c["reference"] for c in charges).items() if ref in wanted and n > 1)
        with MongoClient(ENV["MONGODB_URL"], serverSelectionTimeoutMS=5000) as mongo:
            results = mongo[ENV["MONGODB_DB"]][RESULTS[self.lab.id]]
            field = "_id" if self.lab.id == "03" else "task_id"  # Django keeps the task id as the primary key
            stored = Counter(d[field] for d in results.find({field: {"$in": list(wanted)}}, {field: 1}))
        if succeeded and not stored:  # a wrong collection would count no duplicate, silently
            sys.exit(f"chaos: none of {succeeded} succeeded tasks has a result in {RESULTS[self.lab.id]!r}")
        return dup + sum(n - 1 for n in stored.values() if n > 1)

    def reset_row(self) -> None:
        purge_queues(self.lab.manifest.checkpoints.queues, vhost=VHOST)
        if self.downstream:
            ds = self.procs["downstream"].url
            httpx.delete(f"{ds}/charges", timeout=10)
            httpx.put(f"{ds}/faults", json={"fail_rate": 0.1}, timeout=10)  # a flaky service, always
