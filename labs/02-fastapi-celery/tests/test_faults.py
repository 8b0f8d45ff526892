"""MongoDB or Redis frozen (SIGSTOP, by pid) or dropping the API's connections: a fast, one-line 503, or a retry.

The bound asserted is a multiple of the API's own configured time limit
(DATABASE_TIMEOUT_SECONDS), not a number of milliseconds: a client that
retries a frozen server 10 times, or waits for its default 20 s, fails it.
"""

import asyncio
import os
import time

import httpx
import pytest
import redis

from queuelabs import faults

ROUTES = {
    "redis": [("GET", "/api/async/status/some-id", None), ("POST", "/api/async/process", {"data": "x"})],
    "mongodb": [
        ("GET", "/api/items", None),
        ("POST", "/api/items", {"name": "x"}),
        ("GET", "/api/items/507f1f77bcf86cd799439011", None),
    ],
}


@pytest.mark.parametrize("service", sorted(ROUTES))
def test_a_frozen_server_costs_a_fast_503(api, service):
    from app.core.config import settings

    bound = 3 * settings.DATABASE_TIMEOUT_SECONDS
    with httpx.Client(base_url=api, timeout=30) as http:
        for method, path, body in ROUTES[service]:  # warm: every pooled connection is open
            http.request(method, path, json=body)
        with faults.frozen(faults.service_pid(service)):
            for method, path, body in ROUTES[service]:
                start = time.monotonic()
                reply = http.request(method, path, json=body)
                took = time.monotonic() - start
                assert reply.status_code == 503, f"{method} {path}: {reply.status_code} {reply.text[:200]}"
                detail = reply.json()["detail"]
                assert "\n" not in detail and "is not answering" in detail and "make up" in detail, detail
                assert took < bound, f"{method} {path} took {took:.2f} s with {service} frozen (limit x3: {bound:g} s)"
            start = time.monotonic()
            health = http.get("/health")
            assert health.status_code == 503 and service in health.json()["down"], health.text
            assert time.monotonic() - start < bound, "GET /health waited for the frozen server"


@pytest.mark.parametrize(
    "method, path, body, expected",
    [
        ("GET", "/api/async/status/after-the-drop", None, 404),  # a plain command
        ("POST", "/api/async/process", {"data": "after the drop"}, 202),  # the record of the submission
    ],
)
def test_connections_dropped_by_redis_are_retried_once(api, method, path, body, expected):
    with httpx.Client(base_url=api, timeout=30) as http:
        assert http.post("/api/async/process", json={"data": "warm-up"}).status_code == 202  # pooled connections
        killer = redis.Redis.from_url(os.environ["REDIS_URL"])
        killed = killer.client_kill_filter(_type="normal", skipme=True)
        assert killed >= 1, "Redis had no client connection to drop"
        reply = http.request(method, path, json=body)
        assert reply.status_code == expected, (
            f"the first request after Redis dropped the API's connection: {reply.text}"
        )


def test_concurrent_submissions_are_each_recorded(api):
    """Every accepted id is known to the status route, none mixed up."""

    async def submit_all(count: int) -> list[str]:
        async with httpx.AsyncClient(base_url=api, timeout=30) as http:
            replies = await asyncio.gather(
                *(http.post("/api/async/process", json={"data": f"together {n}"}) for n in range(count))
            )
        assert [reply.status_code for reply in replies] == [202] * count, [
            r.text for r in replies if r.status_code != 202
        ]
        return [reply.json()["task_id"] for reply in replies]

    ids = asyncio.run(submit_all(40))
    assert len(set(ids)) == 40
    with httpx.Client(base_url=api, timeout=30) as http:
        unknown = [task_id for task_id in ids if http.get(f"/api/async/status/{task_id}").status_code == 404]
    assert not unknown, f"{len(unknown)} of 40 accepted submissions were not recorded: {unknown[:3]}"


def test_an_unconfirmed_publish_says_it_may_run_and_keeps_its_record(api, worker):
    """RabbitMQ frozen on a warm connection: the message is sent, its confirm never comes in time.

    The API cannot know whether the task is queued, so its 503 says so, gives the task id,
    and keeps the record: once RabbitMQ is back, the status route reports the task, never 404.
    """
    with httpx.Client(base_url=api, timeout=30) as http:
        assert http.post("/api/async/process", json={"data": "warm-up"}).status_code == 202
        with faults.frozen(faults.service_pid("rabbitmq")):
            reply = http.post("/api/async/process", json={"data": "unsure", "iterations": 1})
        assert reply.status_code == 503, reply.text
        body = reply.json()
        assert "may run or not" in body["detail"] and "Idempotency-Key" in body["detail"], body
        assert reply.headers["Location"] == f"/api/async/status/{body['task_id']}"
        status = http.get(reply.headers["Location"])
        assert status.status_code == 200 and status.json()["status"] in ("PENDING", "STARTED", "SUCCESS"), status.text
