"""Lab 02 under load: the API keeps answering while the workers do the heavy lifting.

Two kinds of simulated users share the API (the HTTP contract in lab 02's lesson):

- TaskSubmitter: submits a small heavy task (POST /api/async/process), then
  polls GET /api/async/status/{id} until SUCCESS or FAILURE. The whole round
  trip (submit, queue, work, result) is NOT a request: it is recorded apart
  (loadtest/round_trips.py: the web UI's "Task round trips" tab, a CSV, a
  summary), so the Charts tab shows the API alone, flat while the queue grows.
  A task still unfinished when the scenario gives up says why: no worker
  (from GET /health), or queued behind other work (RabbitMQ's queue depth).
- Reader: the synchronous side: lists items, creates one now and then, reads
  it back, and calls GET /health.
- BurstSubmitter (the projector's, `make locust` only: lab.toml's web_env sets
  LOADTEST_BURST_USERS): submits a low-priority task every BURST_INTERVAL
  seconds and never waits for it, so more work arrives than the worker can do
  and the queue visibly grows while the API keeps answering.

Every wait is bounded: a task is polled at most MAX_POLLS times and for at
most TASK_TIMEOUT seconds, and Locust's `-t` bounds the whole run.

Run it with `make loadtest LAB=02` (headless, reports) or `make locust LAB=02`
(web UI). Against lab 03's Django API: `--host http://127.0.0.1:8003`, or
QUEUELABS_API_URL. The same contract, the same scenario.
"""

from __future__ import annotations

import os
import random
import time
import uuid

import httpx
import run_report  # noqa: F401  (the run time counts from the start of the load)
from locust import HttpUser, between, constant_throughput, task
from round_trips import RoundTrips

from queuelabs.locust_report import failure_text

DEFAULT_HOST = os.environ.get("QUEUELABS_API_URL", "http://127.0.0.1:8002")

# Small tasks: iterations x TASK_STEP_SECONDS of work each (0.5 s per step by default).
MIN_ITERATIONS = int(os.environ.get("LOADTEST_MIN_ITERATIONS", "1"))
MAX_ITERATIONS = int(os.environ.get("LOADTEST_MAX_ITERATIONS", "4"))
POLL_INTERVAL = 0.5  # seconds between two status requests
MAX_POLLS = 120
TASK_TIMEOUT = float(os.environ.get("LOADTEST_TASK_TIMEOUT", "60"))  # seconds, submit to result
# Burst submitters: how many (0: none, the headless reports' default) and one submit per how many seconds.
BURST_USERS = int(os.environ.get("LOADTEST_BURST_USERS", "0"))
BURST_INTERVAL = float(os.environ.get("LOADTEST_BURST_INTERVAL", "2"))

FINISHED = {"SUCCESS", "FAILURE", "REVOKED"}
PRIORITIES = ("low", "normal", "high")

# Request names group the stats: one line per endpoint, not one per id.
SUBMIT = "/api/async/process"
STATUS = "/api/async/status/[id]"
RABBITMQ_API = os.environ.get("RABBITMQ_MANAGEMENT_URL", "http://127.0.0.1:15672") + "/api"

ROUND_TRIPS = RoundTrips()
ROUND_TRIPS.install()


def _json(response):
    try:
        return response.json()
    except ValueError:
        return None


class TaskSubmitter(HttpUser):
    """Submits heavy work and follows it to the end, one task at a time."""

    host = DEFAULT_HOST
    weight = 1
    wait_time = between(1, 3)

    @task(10)
    def submit_and_follow(self) -> None:
        priority = random.choice(PRIORITIES)
        body = {
            "data": f"locust {uuid.uuid4().hex[:8]}",
            "iterations": random.randint(MIN_ITERATIONS, MAX_ITERATIONS),
            "priority": priority,
        }
        started = time.monotonic()
        with self.client.post(SUBMIT, json=body, name=SUBMIT, catch_response=True) as response:
            data = _json(response)
            if response.status_code != 202:
                response.failure(failure_text("202", response))
                return
            if not isinstance(data, dict) or not data.get("task_id"):
                response.failure(failure_text("202 with a task_id", response))
                return
            task_id = data["task_id"]

        status = None
        for _ in range(MAX_POLLS):
            if time.monotonic() - started > TASK_TIMEOUT:
                break
            time.sleep(POLL_INTERVAL)  # Locust's gevent makes this a cooperative sleep
            with self.client.get(f"/api/async/status/{task_id}", name=STATUS, catch_response=True) as response:
                data = _json(response)
                if response.status_code != 200 or not isinstance(data, dict):
                    response.failure(failure_text("200 with JSON", response))
                    return
                status = data.get("status")
                if status not in FINISHED:
                    continue
                if status == "SUCCESS":
                    ROUND_TRIPS.finished(priority, time.monotonic() - started)
                else:
                    ROUND_TRIPS.failed(priority, f"task {status}: {str(data.get('error'))[:160]}")
                return

        waited = time.monotonic() - started
        note, alarm = why_unfinished(self.host, status, priority, waited)
        ROUND_TRIPS.unfinished(priority, note, alarm=alarm)

    @task(1)
    def unknown_task_is_404(self) -> None:
        """The contract: an id that was never submitted is 404, not an eternal PENDING."""
        with self.client.get(
            f"/api/async/status/{uuid.uuid4()}", name="/api/async/status/[unknown id]", catch_response=True
        ) as response:
            if response.status_code == 404:
                response.success()
            else:
                response.failure(failure_text("404 for an unknown id", response))


class BurstSubmitter(HttpUser):
    """Submits without following: the backlog a room should see build up in RabbitMQ."""

    host = DEFAULT_HOST
    # Exactly BURST_USERS of them, taken out of the total before the others share the rest;
    # Locust leaves out a class whose weight and fixed_count are both 0.
    weight = 0
    fixed_count = BURST_USERS
    wait_time = constant_throughput(1 / BURST_INTERVAL)

    @task
    def submit(self) -> None:
        # The longest task, low priority: the backlog grows, and the followed tasks still overtake it.
        body = {"data": f"burst {uuid.uuid4().hex[:8]}", "iterations": MAX_ITERATIONS, "priority": "low"}
        with self.client.post(SUBMIT, json=body, name=SUBMIT, catch_response=True) as response:
            if response.status_code != 202:
                response.failure(failure_text("202", response))


def why_unfinished(host: str, status: str | None, priority: str, waited: float) -> tuple[str, bool]:
    """What really happened to a task still not done when we give up; True when it is a real fault.

    Asked out of band (plain httpx, not Locust's client), so it is not counted as a request."""
    first = f"still {status or 'PENDING'} after {waited:.0f} s"
    try:
        services = httpx.get(f"{host}/health", timeout=5).json().get("services", {})
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        return f"{first}; GET /health did not answer ({type(exc).__name__})", True
    down = {name: state for name, state in services.items() if state != "ok"}
    if down:
        return f"{first}; /health says {'; '.join(f'{k} {v}' for k, v in down.items())}", True
    if status in ("STARTED", "PROGRESS"):
        return f"{first}: the worker is on it, the task is longer than LOADTEST_TASK_TIMEOUT", False
    behind = "higher-priority work" if priority != "high" else "other high-priority work"
    return f"{first}: the worker runs, the task is queued behind {behind} ({queue_depth()})", False


def queue_depth() -> str:
    """The deepest queue in RabbitMQ's management API, e.g. "312 messages ready in reports"."""
    try:
        queues = httpx.get(
            f"{RABBITMQ_API}/queues",
            params={"columns": "name,vhost,messages_ready"},
            auth=("guest", "guest"),
            timeout=5,
        ).json()
        deepest = max(queues, key=lambda q: q.get("messages_ready", 0))
    except (httpx.HTTPError, ValueError, TypeError, AttributeError):
        return "queue depth unknown: RabbitMQ's management API did not answer"
    return f"{deepest.get('messages_ready', 0)} messages ready in {deepest['name']}, vhost {deepest['vhost']}"


class Reader(HttpUser):
    """The synchronous side of the API: items on MongoDB, and the health check."""

    host = DEFAULT_HOST
    weight = 3
    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        self.item_ids: list[str] = []

    @task(6)
    def list_items(self) -> None:
        with self.client.get("/api/items", params={"limit": 20}, name="/api/items", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(failure_text("200", response))

    @task(1)
    def create_item(self) -> None:
        body = {"name": f"locust item {uuid.uuid4().hex[:8]}", "description": "written by the load test"}
        with self.client.post("/api/items", json=body, name="/api/items", catch_response=True) as response:
            data = _json(response)
            if response.status_code != 201:
                response.failure(failure_text("201", response))
                return
            if isinstance(data, dict) and data.get("id"):
                self.item_ids.append(str(data["id"]))
                del self.item_ids[:-20]  # keep only a few

    @task(3)
    def read_item(self) -> None:
        if not self.item_ids:
            return self.create_item()
        item_id = random.choice(self.item_ids)
        with self.client.get(f"/api/items/{item_id}", name="/api/items/[id]", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(failure_text("200", response))

    @task(2)
    def health(self) -> None:
        with self.client.get("/health", name="/health", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(failure_text("200 healthy", response))
