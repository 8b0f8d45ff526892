"""The fault suite: `make chaos LAB=04` (or 02) runs a lab's reference under real faults.

Each row causes one fault for real, on the native stack, while tasks flow,
then counts what the system did with every task it ACCEPTED (a 202):
succeeded, dead-lettered (lab 04's dead-letter queue), lost (neither: still
pending for ever, or failed with nobody to replay it), and duplicated effects
(a charge or a stored result made twice, or one order that became two tasks).
Everything runs in its own corner: RabbitMQ vhost `queuelabs-chaos`, Redis
database 13, MongoDB database `queuelabs_chaos`.
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
from pymongo import MongoClient

from queuelabs import stack
from queuelabs.labs import Lab, find_lab
from queuelabs.processes import ManagedProcess, free_port
from queuelabs.settings import LOG_DIR, TEST_ENV
from queuelabs.testing import faults
from queuelabs.testing.isolation import delete_queues, purge_queues

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
HEADER = ("fault", "accepted", "succeeded", "dead-lettered", "lost", "duplicated effects")


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

    def settle(self, task_ids: list[str], timeout: float = 240, quiet: float = 40) -> dict[str, str]:
        """Wait until every task ended, or nothing changed for `quiet` seconds; their last states."""
        deadline, last, moved = time.monotonic() + timeout, None, time.monotonic()
        while True:
            states = self.states(task_ids)
            ended = sum(s in ("SUCCESS", "FAILURE") for s in states.values())
            if ended == len(task_ids) or time.monotonic() > deadline or time.monotonic() - moved > quiet:
                return states
            if states != last:
                last, moved = states, time.monotonic()
            time.sleep(1)

    def dead_letters(self) -> set[str]:
        if not self.downstream:  # lab 02 has no dead-letter queue
            return set()
        body = self.http.get("/api/dead-letters", params={"limit": 1000}, timeout=60).json()
        return {letter["task_id"] for letter in body["dead_letters"]}

    def effects(self, task_ids: list[str]) -> int:
        """Duplicated effects among these tasks: charges per task (lab 04), stored results per task."""
        wanted, dup = set(task_ids), 0
        if self.downstream:
            charges = httpx.get(f"{self.procs['downstream'].url}/charges", timeout=30).json()["charges"]
            dup += sum(n - 1 for ref, n in Counter(c["reference"] for c in charges).items() if ref in wanted and n > 1)
        with MongoClient(ENV["MONGODB_URL"], serverSelectionTimeoutMS=5000) as mongo:
            docs = mongo[ENV["MONGODB_DB"]]["task_results"].find({"task_id": {"$in": list(wanted)}}, {"task_id": 1})
            dup += sum(n - 1 for n in Counter(d["task_id"] for d in docs).values() if n > 1)
        return dup

    def reset_row(self) -> None:
        purge_queues(self.lab.manifest.checkpoints.queues, vhost=VHOST)
        if self.downstream:
            ds = self.procs["downstream"].url
            httpx.delete(f"{ds}/charges", timeout=10)
            httpx.put(f"{ds}/faults", json={"fail_rate": 0.1}, timeout=10)  # a flaky service, always


def submit_many(system: System, n: int, iterations: int, threads: int = 4) -> list[str]:
    with ThreadPoolExecutor(threads) as pool:
        ids = list(pool.map(lambda i: system.submit(iterations, data=f"task {i}"), range(n)))
    return [t for t in ids if t]


def during(seconds: float, action: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(seconds), action()), daemon=True)
    thread.start()
    return thread


def row_worker_kills(system: System) -> tuple[list[str], Counter]:
    ids = submit_many(system, 100, iterations=4)  # about 0.2 s each: about 10 s of work on 2 processes
    for pause in (1.5, 1.5):
        time.sleep(pause)
        faults.kill_worker_child(system.procs["worker"])
    time.sleep(1.5)
    worker = system.procs["worker"]
    faults.kill_worker_parent(worker)
    worker.stop()
    system.start_worker()
    return ids, Counter()


def row_rabbitmq_kill(system: System) -> tuple[list[str], Counter]:
    ids: list[str] = []
    stop = threading.Event()

    def keep_submitting() -> None:  # about 40 submissions a second, before, during and after the crash
        while not stop.is_set():
            task_id = system.submit(2)
            if task_id:
                ids.append(task_id)
            time.sleep(0.05)

    threads = [threading.Thread(target=keep_submitting) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(3)
    faults.send(faults.service_pid("rabbitmq"), faults.Kill.SIGKILL)
    time.sleep(2)
    stack.up(["rabbitmq"])  # about 15 s: mnesia recovers the durable queues and persistent messages
    time.sleep(5)
    stop.set()
    for t in threads:
        t.join()
    return ids, Counter()


def row_outage(service: str, seconds: float) -> Callable[[System], tuple[list[str], Counter]]:
    def run(system: System) -> tuple[list[str], Counter]:
        ids = submit_many(system, 40, iterations=10)  # about 0.5 s each: about 10 s of work
        time.sleep(1)
        with faults.frozen(pid_of(system, service)):  # stops answering, keeps its sockets: an outage
            time.sleep(seconds)
        return ids, Counter()

    return run


def row_down(service: str, seconds: float) -> Callable[[System], tuple[list[str], Counter]]:
    def run(system: System) -> tuple[list[str], Counter]:
        ids = submit_many(system, 40, iterations=10)
        time.sleep(2)  # Redis writes its append-only file every second: the submissions are on disk
        faults.send(faults.service_pid(service), faults.Kill.SIGKILL)  # down: connections refused
        time.sleep(seconds)
        stack.up([service])
        return ids, Counter()

    return run


def pid_of(system: System, service: str) -> int:
    return system.procs["downstream"].pid if service == "downstream" else faults.service_pid(service)


def row_duplicates(system: System) -> tuple[list[str], Counter]:
    """2,000 orders; a fifth of them sent again with the same Idempotency-Key (a client retry)."""
    rng, ids, tasks_per_order = random.Random(4), [], Counter()

    def order(i: int) -> list[str]:
        key, sends = f"order-{uuid.uuid4()}", 2 if rng.random() < 0.2 else 1
        got = []
        for _ in range(sends):
            for _try in range(3):  # no 202 (a 503...): the client tries again, with the same key
                task_id = system.submit(1, key=key, data=f"order {i}")
                if task_id:
                    got.append(task_id)
                    break
        return list(dict.fromkeys(got))

    with ThreadPoolExecutor(8) as pool:
        for got in pool.map(order, range(2000)):
            ids.extend(got)
            tasks_per_order[len(got)] += 1
    return ids, tasks_per_order


def rows(system: System) -> list[tuple[str, Callable]]:
    out = [
        ("kill -9: 2 pool children, then the worker (100 tasks)", row_worker_kills),
        ("RabbitMQ kill -9 while submitting", row_rabbitmq_kill),
        ("Redis frozen, 10 s (40 tasks)", row_outage("redis", 10)),
        ("Redis kill -9, down 10 s (40 tasks)", row_down("redis", 10)),
        ("MongoDB frozen, 25 s (40 tasks)", row_outage("mongodb", 25)),
        ("MongoDB kill -9, down 25 s (40 tasks)", row_down("mongodb", 25)),
    ]
    if system.downstream:
        out.append(("payment service frozen, 15 s (40 tasks)", row_outage("downstream", 15)))
    out.append(("2,000 submissions, 20% sent twice", row_duplicates))
    return out


def run(lab_id: str) -> int:
    lab = find_lab(lab_id)
    for name in lab.needs:
        try:
            faults.service_pid(name)
        except AssertionError as exc:  # not running, or not ours to signal
            sys.exit(f"chaos: {exc} (start it with: make up)")
    system = System(lab)
    table = []
    try:
        system.up()
        for title, row in rows(system):
            system.reset_row()
            print(f"[chaos] lab {lab.id}: {title} ...", flush=True)
            ids, orders = row(system)
            if system.procs["worker"].proc.poll() is not None:  # a worker that died with the broker
                system.start_worker()
            states = system.settle(ids)
            dead = system.dead_letters() & set(ids)
            succeeded = sum(s == "SUCCESS" for s in states.values())
            dup = system.effects(ids) + sum((n - 1) * count for n, count in orders.items() if n > 1)
            lost = len(ids) - succeeded - len(dead)
            table.append((title, len(ids), succeeded, len(dead), lost, dup))
            print(f"[chaos]   final states: {dict(Counter(states.values()))}", flush=True)
    finally:
        system.down()
    print(f"\nLab {lab.id} ({lab.title}), reference solution, native stack:\n")
    print("| " + " | ".join(HEADER) + " |")
    print("|" + "|".join("---" for _ in HEADER) + "|")
    for line in table:
        print("| " + " | ".join(str(cell) for cell in line) + " |")
    bad = [line for line in table if line[4] or line[5]]
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="queuelabs chaos", description=__doc__.splitlines()[0])
    parser.add_argument("lab", help="the lab whose reference runs the fault suite: 02 or 04")
    args = parser.parse_args(argv)
    if stack.mode() != "native":
        sys.exit("chaos: the fault suite needs the native stack (it signals the servers by pid)")
    return run(args.lab)


if __name__ == "__main__":
    sys.exit(main())
