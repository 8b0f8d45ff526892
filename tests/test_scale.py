"""Scale-out: nginx in front of three replicas of lab 02's reference (what `make scale` runs).

The same nginx configuration `make scale` writes (queuelabs/scale/), here on a
free port with a low rate limit, in front of three API processes and one
worker on the checkpoints' isolated stack. Nginx is Debian's package,
installed by the project when missing (like RabbitMQ, Redis and Chromium).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
import pytest

from queuelabs.processes import ManagedProcess, free_port, is_running, port_open
from queuelabs.scale.nginx import NginxSetup, write_config

RATE, BURST = 20, 5  # requests/s per client address, and the burst answered at once


@pytest.fixture(scope="module")
def scaled(run_solution_for_module, tmp_path_factory):
    """nginx -> 3 API replicas (+ a worker, so /health is healthy); nginx is stopped by pid at the end."""
    apis = [run_solution_for_module("02", "api")["api"] for _ in range(3)]
    run_solution_for_module("02", "worker")
    folder = tmp_path_factory.mktemp("scale")
    setup = NginxSetup("02", free_port(), tuple(api.port for api in apis), RATE, BURST, folder, folder / "logs")
    nginx = ManagedProcess(
        "nginx", write_config(setup), cwd=folder, env=dict(os.environ), log_path=folder / "nginx.log"
    )
    nginx.start()
    nginx.wait_ready(url=f"{setup.url}/", timeout=15)
    yield setup, nginx
    nginx.stop()


def test_below_the_limit_no_request_fails_and_all_three_replicas_answer(scaled):
    setup, _ = scaled
    calls = [
        ("GET", "/api/items?limit=1", None),
        ("GET", "/health", None),
        ("POST", "/api/async/process", {"data": "scale", "iterations": 1, "priority": "normal"}),
    ]

    def one_user(offset: int) -> list[httpx.Response]:
        answers = []
        with httpx.Client(base_url=setup.url, timeout=10) as client:
            for i in range(15):  # 5 requests/s per user, 2 users: half the limit
                method, path, body = calls[(i + offset) % len(calls)]
                answers.append(client.request(method, path, json=body))
                time.sleep(0.2)
        return answers

    with ThreadPoolExecutor(2) as pool:
        answers = [a for batch in pool.map(one_user, (0, 1)) for a in batch]
    failed = [f"{a.request.method} {a.request.url.path}: {a.status_code} {a.text[:120]}" for a in answers if a.is_error]
    assert not failed, f"{len(failed)} of {len(answers)} failed below the rate limit:\n" + "\n".join(failed)
    instances = {a.headers.get("X-Instance") for a in answers}
    assert None not in instances, "a response without X-Instance"
    assert len(instances) == 3, f"expected the three replicas to answer, saw {instances}"
    assert all(a.status_code == 200 and a.json()["status"] == "healthy" for a in answers if a.url.path == "/health")


def test_a_burst_over_the_limit_is_answered_429_in_json(scaled):
    setup, _ = scaled
    time.sleep(1.0)  # the previous test's requests have left the limiter's bucket
    limits = httpx.Limits(max_connections=40)
    with httpx.Client(base_url=setup.url, timeout=10, limits=limits) as client, ThreadPoolExecutor(40) as pool:
        answers = list(pool.map(lambda _: client.get("/api/items?limit=1"), range(40)))
    refused = [a for a in answers if a.status_code == 429]
    assert len(refused) >= 40 - BURST - 10, f"expected most of a 40-request burst refused, got {len(refused)}"
    assert any(a.status_code == 200 for a in answers), "the burst allowance answered nothing"
    for answer in refused:
        assert answer.headers["content-type"].startswith("application/json")
        assert answer.headers.get("Retry-After") == "1"
        detail = answer.json()["detail"]
        assert isinstance(detail, str) and "\n" not in detail and "per second" in detail, detail


def test_nginx_listens_on_loopback_only_and_stops_by_pid(scaled):
    setup, nginx = scaled
    family = [psutil.Process(nginx.pid), *psutil.Process(nginx.pid).children(recursive=True)]
    assert len(family) >= 2, "expected nginx's master and its worker"
    listening = [c.laddr for p in family for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
    assert listening and all(addr.ip == "127.0.0.1" for addr in listening), listening
    nginx.stop()
    assert not any(is_running(p.pid) for p in family), "nginx or its worker outlived the stop"
    assert not port_open(setup.listen_port)
