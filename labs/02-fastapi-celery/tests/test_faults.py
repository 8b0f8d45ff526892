"""MongoDB or Redis frozen (SIGSTOP, by pid) or dropping the API's connections: a fast, one-line 503, or a retry.

The bound asserted is a multiple of the API's own configured time limit
(DATABASE_TIMEOUT_SECONDS), not a number of milliseconds: a client that
retries a frozen server 10 times, or waits for its default 20 s, fails it.
"""

import os
import time

import httpx
import pytest
import redis

from queuelabs.testing import faults

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


def test_connections_dropped_by_redis_are_retried_once(api):
    with httpx.Client(base_url=api, timeout=30) as http:
        assert http.get("/api/async/status/warm-up").status_code == 404  # the pool now holds a connection
        killer = redis.Redis.from_url(os.environ["REDIS_URL"])
        killed = killer.client_kill_filter(_type="normal", skipme=True)
        assert killed >= 1, "Redis had no client connection to drop"
        reply = http.get("/api/async/status/after-the-drop")
        assert reply.status_code == 404, f"the first request after Redis dropped the API's connection: {reply.text}"
