"""Lab 05 under load: orders through the cluster while a node dies, and zero lost or repeated.

One kind of simulated user, a shop checking out orders, as in lab 04:

- each order is submitted with an Idempotency-Key; one order in five is sent
  twice with the same key (a client retrying after a lost answer), and both
  answers must name the same task id;
- a submission refused with 503 (a server of the cluster failing over) is sent
  again with the same key, after a pause, until it is accepted: the key makes
  that retry safe (exercise 5.6);
- the order is then followed until SUCCESS, or FAILURE (dead-lettered).

Partway through the run (LOADTEST_KILL_AFTER, 8 s by default) one node of
`make cluster` is killed (kill -9, by pid): LOADTEST_KILL = "mongodb" (the
MongoDB primary, the default), "redis" (the Redis primary) or "none". It stays
down until the end, when `make cluster` brings it back.

At the end of the run every accepted task is checked once more: a task that is
neither SUCCESS nor FAILURE is LOST, and a key answered with two task ids is a
REPEAT; either makes the run exit 1 (Locust's process_exit_code). The summary
line says how many were accepted, refused and retried, replayed, succeeded,
dead-lettered and lost, and which node died when.

Run it with `make loadtest LAB=05` (headless, reports) or `make locust LAB=05`,
against `make lab05` (your code) or `make lab05 CODE=solution`
(`--host http://127.0.0.1:8105`).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid

import gevent
from locust import HttpUser, between, events, task
from round_trips import RoundTrips
from run_report import final_outcomes, write_key_result

from queuelabs.locust_report import failure_text

DEFAULT_HOST = os.environ.get("QUEUELABS_API_URL", "http://127.0.0.1:8005")
KILL = os.environ.get("LOADTEST_KILL", "mongodb")
KILL_AFTER = float(os.environ.get("LOADTEST_KILL_AFTER", "8"))
REPEAT_SHARE = 0.2  # orders sent twice with the same key
RETRY_PAUSE = 1.0  # after a 503, the same order again with the same key
RETRIES = 30
POLL_INTERVAL = 0.5
TASK_TIMEOUT = float(os.environ.get("LOADTEST_TASK_TIMEOUT", "60"))
SETTLE_SECONDS = float(os.environ.get("LOADTEST_SETTLE_SECONDS", "40"))

SUBMIT = "/api/async/process"
STATUS = "/api/async/status/[id]"
ROUND_TRIPS = RoundTrips()
ROUND_TRIPS.install("Order round trips")
ACCEPTED: set[str] = set()  # every task id the API accepted (a 202)
TALLY = {"refused": 0, "replayed": 0, "replay_mismatch": 0}
KILLED: dict[str, object] = {}  # what died, and when (seconds into the run)


def kill_a_node(started: float) -> None:
    """The primary of the chosen set, kill -9 by its pid (queuelabs.cluster knows which one it is)."""
    from queuelabs.cluster import mongodb, redis
    from queuelabs.processes import read_pid

    gevent.sleep(KILL_AFTER)
    if KILL == "mongodb":
        number, name = mongodb.primary_number(), mongodb.name
    elif KILL == "redis":
        number, name = redis.primary_number(), redis.server_name
    else:
        return
    pid = read_pid(name(number)) if number else None
    if pid is None:
        print(f"[lab05] no {KILL} primary to kill: is `make cluster` running?")
        return
    os.kill(pid, signal.SIGKILL)
    KILLED.update(node=f"the {KILL} primary ({name(number)})", at=time.monotonic() - started)
    print(f"[lab05] killed {KILLED['node']} (kill -9 {pid}) at {KILLED['at']:.1f} s; it stays down until the end")


@events.test_start.add_listener
def schedule_the_kill(environment, **_) -> None:
    if KILL != "none":
        gevent.spawn(kill_a_node, time.monotonic())


@events.quitting.add_listener
def count_lost_tasks(environment, **_) -> None:
    """Every accepted task must end: SUCCESS, or FAILURE (dead-lettered). Anything else is lost."""
    host = environment.host or DEFAULT_HOST
    succeeded, failed, lost = final_outcomes(host, ACCEPTED, SETTLE_SECONDS)
    killed = f"{KILLED['node']} killed at {KILLED['at']:.0f} s" if KILLED else "no node killed"
    summary = (
        f"accepted {len(ACCEPTED)}, refused and sent again {TALLY['refused']}, replayed {TALLY['replayed']} "
        f"(mismatched {TALLY['replay_mismatch']}), succeeded {succeeded}, dead-lettered {failed}, lost {lost}"
    )
    print(f"[lab05] {summary} ({killed})")
    write_key_result(environment, f"With {killed}: {summary}")
    if KILLED:  # `make cluster`: the killed node comes back and rejoins
        print("[lab05] make cluster: bringing the killed node back")
        subprocess.run([sys.executable, "-c", "from queuelabs import cluster; cluster.up()"], check=False)
    if lost or TALLY["replay_mismatch"] or not ACCEPTED:
        environment.process_exit_code = 1


class Shop(HttpUser):
    host = DEFAULT_HOST
    wait_time = between(0.5, 1.5)

    def _submit(self, body: dict, key: str) -> str | None:
        """The task id of a 202; a 503 is sent again (same key) until accepted; None otherwise."""
        headers = {"Idempotency-Key": key}
        for attempt in range(1, RETRIES + 1):
            with self.client.post(SUBMIT, json=body, headers=headers, name=SUBMIT, catch_response=True) as response:
                if response.status_code == 202:
                    return response.json()["task_id"]
                if response.status_code == 409:  # the first copy is still being accepted: fine, it is ours
                    response.success()
                    return None
                if response.status_code != 503 or attempt == RETRIES:  # refused for good: a failure
                    response.failure(failure_text("202", response))
                    return None
                response.success()  # a server failing over: nothing was promised, the same key again
                TALLY["refused"] += 1
            time.sleep(RETRY_PAUSE)
        return None

    @task
    def checkout(self) -> None:
        body = {"data": f"order {uuid.uuid4().hex[:8]}", "iterations": random.randint(1, 3)}
        key = f"order-{uuid.uuid4()}"
        started = time.monotonic()
        task_id = self._submit(body, key)
        if task_id is None:
            return
        ACCEPTED.add(task_id)
        if random.random() < REPEAT_SHARE:  # the client did not see the answer and sends it again
            again = self._submit(body, key)
            if again is not None:
                TALLY["replayed"] += 1
                TALLY["replay_mismatch"] += again != task_id
        status = None
        while time.monotonic() - started < TASK_TIMEOUT:
            time.sleep(POLL_INTERVAL)
            with self.client.get(f"/api/async/status/{task_id}", name=STATUS, catch_response=True) as response:
                if response.status_code == 503:  # the status reads Redis and MongoDB: failing over, ask again
                    response.success()
                    continue
                if response.status_code != 200:
                    response.failure(failure_text("200", response))
                    return
                status = response.json().get("status")
            if status == "SUCCESS":
                ROUND_TRIPS.finished("order", time.monotonic() - started)
                return
            if status == "FAILURE":  # dead-lettered after its retries
                ROUND_TRIPS.failed("order", "dead-lettered after its retries", alarm=False)
                return
        # Not a fault by itself: the end-of-run check counts the tasks that never end (LOST).
        ROUND_TRIPS.unfinished("order", f"still {status or 'PENDING'} after {TASK_TIMEOUT:g} s", alarm=False)
