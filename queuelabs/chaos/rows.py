"""The rows of the table: each causes one fault for real while tasks flow.

Each returns the ids of the tasks the API accepted, and a Counter of how many
tasks each order became (only the duplicate-submission row fills it).
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from queuelabs import faults, stack

from .system import System

# Long enough to outlast Celery's 20 retries of a state write (1 s apart) and let the worker take the
# queue; a lab that retries longer (lab 04) keeps its tasks, and Redis comes back after the upper limit.
REDIS_DOWN_AT_LEAST, REDIS_DOWN_AT_MOST = 10, 60


def submit_many(system: System, n: int, iterations: int, threads: int = 4) -> list[str]:
    with ThreadPoolExecutor(threads) as pool:
        ids = list(pool.map(lambda i: system.submit(iterations, data=f"task {i}"), range(n)))
    return [t for t in ids if t]


def queued_at_fault(system: System, ids: list[str]) -> None:
    """Hold the fault until the worker is at work and say how many tasks it will meet still queued."""
    queued = system.at_work_with_queued(ids)
    print(f"[chaos]   fault applied with {queued} of {len(ids)} tasks still queued", flush=True)


def row_worker_kills(system: System) -> tuple[list[str], Counter]:
    ids = submit_many(system, 100, iterations=4)  # about 0.2 s each: about 10 s of work on 2 processes
    queued_at_fault(system, ids)
    for pause in (0, 1.5):
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
        queued_at_fault(system, ids)
        with faults.frozen(pid_of(system, service)):  # stops answering, keeps its sockets: an outage
            time.sleep(seconds)
        return ids, Counter()

    return run


def row_down(service: str, seconds: float) -> Callable[[System], tuple[list[str], Counter]]:
    def run(system: System) -> tuple[list[str], Counter]:
        ids = submit_many(system, 40, iterations=10)
        time.sleep(1.5)  # Redis writes its append-only file every second: the submissions are on disk
        queued_at_fault(system, ids)
        faults.send(faults.service_pid(service), faults.Kill.SIGKILL)  # down: connections refused
        time.sleep(seconds)
        stack.up([service])
        return ids, Counter()

    return run


def row_redis_down(system: System) -> tuple[list[str], Counter]:
    """Redis killed while the worker runs the first tasks and the rest are queued, and kept down
    until the worker has taken every one of them, so the outage spans every state write they make.

    Why not a fixed 10 s: Celery retries a failed result-backend SET 20 times, 1 s apart, but not the
    GET it makes just before it. A task caught in the SET waited out a 10 s outage and its worker
    took nothing meanwhile (0 lost); one caught in the GET failed at once, and so did every queued
    task after it (28-30 lost). Which call Redis died in decided the row; now the outage outlasts both.
    """
    ids = submit_many(system, 40, iterations=80)  # about 4 s each: none has ended when Redis dies
    time.sleep(1.5)  # Redis writes its append-only file every second: the submissions are on disk
    queued_at_fault(system, ids)
    faults.send(faults.service_pid("redis"), faults.Kill.SIGKILL)  # down: connections refused
    started = time.monotonic()
    time.sleep(REDIS_DOWN_AT_LEAST)
    # The queues' count covers messages a worker holds unacknowledged: 0 = every task was taken and ended.
    while system.work_left() and time.monotonic() - started < REDIS_DOWN_AT_MOST:
        time.sleep(1)
    down = time.monotonic() - started
    left = system.work_left()
    print(f"[chaos]   Redis down {down:.0f} s; {left} task(s) still queued or running when it came back", flush=True)
    stack.up(["redis"])
    return ids, Counter()


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


REDIS_FROZEN = "Redis frozen, 10 s (40 tasks)"
REDIS_KILLED = "Redis kill -9, down until the worker took all 40 tasks (60 s at most)"
DUPLICATES = "2,000 submissions, 20% sent twice"
# What labs 02 and 03 lose by design and their lessons name: lab 04 fixes these rows
# (result_backend_always_retry, the Idempotency-Key), so only lab 04 must show none there.
FIXED_IN_LAB_04 = {REDIS_FROZEN, REDIS_KILLED, DUPLICATES}


def rows(system: System) -> list[tuple[str, Callable]]:
    out = [
        ("kill -9: 2 pool children, then the worker (100 tasks)", row_worker_kills),
        ("RabbitMQ kill -9 while submitting", row_rabbitmq_kill),
        (REDIS_FROZEN, row_outage("redis", 10)),
        (REDIS_KILLED, row_redis_down),
        ("MongoDB frozen, 25 s (40 tasks)", row_outage("mongodb", 25)),
        ("MongoDB kill -9, down 25 s (40 tasks)", row_down("mongodb", 25)),
    ]
    if system.downstream:
        out.append(("payment service frozen, 15 s (40 tasks)", row_outage("downstream", 15)))
    out.append((DUPLICATES, row_duplicates))
    return out
