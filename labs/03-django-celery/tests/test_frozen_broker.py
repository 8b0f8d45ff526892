"""Lab 03 under a hung or a stopped RabbitMQ: submissions are refused within the publish
time limit, however many arrive at once, other routes keep answering, and a refusal
leaves no intent behind.

RabbitMQ is frozen for real (SIGSTOP of its process, by pid). A stopped RabbitMQ is a
port where nothing listens (the connection is refused, as it is when the server is down):
a second API, pointed at one, must refuse at once. Times are compared with the limits the
API is configured with (PUBLISH_TIMEOUT_SECONDS) and with the same requests when idle.
"""

import os
import socket
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from pymongo import MongoClient

from queuelabs.faults import frozen, service_pid
from queuelabs.testing import contract
from queuelabs.testing.checks import patience

PUBLISH_TIMEOUT_SECONDS = 2.0  # the API's default (config/settings.py)
SUBMISSIONS = 45


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def timed(http: httpx.Client, method: str, path: str, **kw) -> tuple[httpx.Response, float]:
    start = time.monotonic()
    reply = http.request(method, path, **kw)
    return reply, time.monotonic() - start


def intents_named(data: str) -> int:
    with MongoClient(os.environ["MONGODB_URL"], serverSelectionTimeoutMS=5000) as mongo:
        return mongo[os.environ["MONGODB_DB"]]["jobs_submission"].count_documents({"arguments.data": data})


def test_45_submissions_to_a_frozen_rabbitmq_are_refused_in_time_and_items_stay_fast(api):
    with httpx.Client(base_url=api, timeout=60) as http:
        contract.submit(http, data="warm up", iterations=1)
        idle = [timed(http, "GET", "/api/items")[1] for _ in range(40)]

    def submit(_: int) -> tuple[int, str, float]:
        with httpx.Client(base_url=api, timeout=30) as http:
            reply, took = timed(http, "POST", "/api/async/process", json={"data": "frozen", "iterations": 1})
            return reply.status_code, reply.text, took

    with frozen(service_pid("rabbitmq")), ThreadPoolExecutor(SUBMISSIONS) as pool:
        futures = [pool.submit(submit, n) for n in range(SUBMISSIONS)]
        loaded = []
        with httpx.Client(base_url=api, timeout=30) as http:
            while not all(future.done() for future in futures) or len(loaded) < 20:
                reply, took = timed(http, "GET", "/api/items")
                assert reply.status_code == 200, reply.text[:200]
                loaded.append(took)
        answers = [future.result() for future in futures]
        all_done = max(took for _, _, took in answers)

    print(
        f"\n{SUBMISSIONS} submissions to a frozen RabbitMQ: all answered within {all_done:.2f} s "
        f"; GET /api/items p95 {p95(loaded) * 1000:.0f} ms meanwhile, "
        f"{p95(idle) * 1000:.0f} ms idle (x{p95(loaded) / p95(idle):.1f}, {len(loaded)} requests)"
    )
    wrong = [f"{code} {text[:100]}" for code, text, _ in answers if code != 503 or "RabbitMQ" not in text]
    assert not wrong, f"every submission should be a 503 naming RabbitMQ: {wrong[:3]}"
    # 3 s on a quiet machine; patience() lengthens it on a busy one (load per CPU, up to 4x).
    assert all_done < patience(PUBLISH_TIMEOUT_SECONDS * 1.5), (
        f"{SUBMISSIONS} submissions took {all_done:.2f} s: more than the publish limit allows"
    )
    assert p95(loaded) < patience(PUBLISH_TIMEOUT_SECONDS / 4), (
        f"GET /api/items p95 was {p95(loaded):.2f} s while RabbitMQ hung: submissions held every thread"
    )
    assert intents_named("frozen") == 0, "a refused submission left its intent in MongoDB"


def test_a_stopped_rabbitmq_is_refused_at_once_and_leaves_nothing_behind(start_lab_process, lab):
    with socket.socket() as probe:  # a free port, closed again: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    broker = f"amqp://guest:guest@127.0.0.1:{port}//"
    other_api = start_lab_process(lab.api_process, env={"CELERY_BROKER_URL": broker}).url
    with httpx.Client(base_url=other_api, timeout=60) as http:
        http.get("/api/items")  # a first request loads every module: not what is measured
        items = [timed(http, "GET", "/api/items")[1] for _ in range(10)]
        refused = [
            timed(http, "POST", "/api/async/process", json={"data": "stopped", "iterations": 1}) for _ in range(10)
        ]
    print(
        f"\nwith RabbitMQ stopped: 503 in {statistics.median(t for _, t in refused) * 1000:.0f} ms (median), "
        f"GET /api/items {statistics.median(items) * 1000:.0f} ms"
    )
    for reply, _ in refused:
        assert reply.status_code == 503 and "RabbitMQ" in reply.json()["detail"], reply.text[:200]
        assert "MongoDB" not in reply.json()["detail"], reply.text[:200]
    # At once: a fraction of the limit (a retry after a pause, or a wait for the limit, is not).
    took = sorted(t for _, t in refused)
    assert statistics.median(took) < patience(PUBLISH_TIMEOUT_SECONDS / 4) and took[-1] < PUBLISH_TIMEOUT_SECONDS, (
        f"a refused connection should be a 503 at once, not after {statistics.median(took):.2f} s (median), "
        f"{took[-1]:.2f} s (slowest): a retry?"
    )
    assert intents_named("stopped") == 0, "a refused submission left its intent in MongoDB"
