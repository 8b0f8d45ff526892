"""Lab 04 under load: idempotent submissions to a flaky payment service, and zero lost tasks.

One kind of simulated user, a shop checking out orders:

- each order is submitted with an Idempotency-Key; one order in five is sent
  twice with the same key (a client retrying after a lost answer), and both
  answers must name the same task id;
- the order is then followed until SUCCESS, or FAILURE (dead-lettered);
- while it runs, the payment service fails a share of its calls
  (LOADTEST_DOWNSTREAM_FAIL_RATE, 0.2 by default), so tasks retry.

At the end of the run every accepted task is checked once more: a task that
is neither SUCCESS nor FAILURE is LOST, and the run exits 1 (Locust's
process_exit_code). The summary line says how many were accepted, replayed,
succeeded, dead-lettered and lost.

Run it with `make loadtest LAB=04` (headless, reports) or `make locust LAB=04`.
"""

from __future__ import annotations

import os
import random
import time
import uuid

import httpx
from locust import HttpUser, between, events, task
from round_trips import RoundTrips
from run_report import final_outcomes, write_key_result

from queuelabs.locust_report import failure_text

DEFAULT_HOST = os.environ.get("QUEUELABS_API_URL", "http://127.0.0.1:8004")
DOWNSTREAM_URL = os.environ.get("DOWNSTREAM_URL", "http://127.0.0.1:8044")
FAIL_RATE = float(os.environ.get("LOADTEST_DOWNSTREAM_FAIL_RATE", "0.2"))
REPEAT_SHARE = 0.2  # orders sent twice with the same key
POLL_INTERVAL = 0.5
TASK_TIMEOUT = float(os.environ.get("LOADTEST_TASK_TIMEOUT", "60"))
SETTLE_SECONDS = float(os.environ.get("LOADTEST_SETTLE_SECONDS", "40"))

SUBMIT = "/api/async/process"
STATUS = "/api/async/status/[id]"
# Submit-to-end times are kept apart from the API's requests (see round_trips.py):
# the web UI's "Order round trips" tab, <csv prefix>_round_trips.csv, the summary.
ROUND_TRIPS = RoundTrips()
ROUND_TRIPS.install("Order round trips")
ACCEPTED: set[str] = set()  # every task id the API accepted (a 202)
TALLY = {"replayed": 0, "replay_mismatch": 0}


@events.test_start.add_listener
def make_the_payment_service_flaky(environment, **_) -> None:
    try:
        httpx.put(f"{DOWNSTREAM_URL}/faults", json={"fail_rate": FAIL_RATE}, timeout=5).raise_for_status()
        print(f"[lab04] the payment service at {DOWNSTREAM_URL} now fails {FAIL_RATE:.0%} of calls")
    except httpx.HTTPError as exc:
        print(f"[lab04] could not reach the payment service at {DOWNSTREAM_URL} ({exc}): it fails as configured")


@events.quitting.add_listener
def count_lost_tasks(environment, **_) -> None:
    """Every accepted task must end: SUCCESS, or FAILURE (dead-lettered). Anything else is lost."""
    host = environment.host or DEFAULT_HOST
    succeeded, failed, lost = final_outcomes(host, ACCEPTED, SETTLE_SECONDS)
    summary = (
        f"accepted {len(ACCEPTED)}, replayed {TALLY['replayed']} (mismatched {TALLY['replay_mismatch']}), "
        f"succeeded {succeeded}, dead-lettered {failed}, lost {lost}"
    )
    print(f"[lab04] {summary}")
    write_key_result(environment, f"With a payment service failing {FAIL_RATE:.0%} of calls: {summary}")
    if lost or TALLY["replay_mismatch"]:
        environment.process_exit_code = 1


class Shop(HttpUser):
    host = DEFAULT_HOST
    wait_time = between(0.5, 1.5)

    def _submit(self, body: dict, key: str) -> str | None:
        headers = {"Idempotency-Key": key}
        with self.client.post(SUBMIT, json=body, headers=headers, name=SUBMIT, catch_response=True) as response:
            if response.status_code == 409:  # the first copy is still being accepted: fine, it is ours
                response.success()
                return None
            if response.status_code != 202:
                response.failure(failure_text("202", response))
                return None
            return response.json()["task_id"]

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
                if response.status_code != 200:
                    response.failure(failure_text("200", response))
                    return
                status = response.json().get("status")
            if status == "SUCCESS":
                ROUND_TRIPS.finished("order", time.monotonic() - started)
                return
            if status == "FAILURE":  # dead-lettered after its retries: expected with a flaky payment service
                ROUND_TRIPS.failed("order", "dead-lettered after its retries", alarm=False)
                return
        # Not a fault by itself: the end-of-run check counts the tasks that never end (LOST).
        ROUND_TRIPS.unfinished("order", f"still {status or 'PENDING'} after {TASK_TIMEOUT:g} s", alarm=False)
