"""Exercise 2.3: publishing must not block the event loop.

A broker that accepts connections and never answers makes `apply_async`
hang for its connection time-out. While one submission hangs like that, the
same server must keep answering other requests. The verdict is an order, not
durations (a loaded laptop slows every request): a free loop answers a cheap
request sent during the hang before the submission gives up; a blocked one
only after it (the server sends the submission's answer first).
"""

import threading
import time

import httpx
import pytest

from queuelabs.settings import TEST_VHOST
from queuelabs.testing.checks import fail_if_not_started

ANSWERED_BEFORE = 0.1  # seconds: a free loop answers the probe at least this long before the submission gives up


@pytest.mark.exercise("2.3")
def test_a_slow_broker_does_not_freeze_the_api(fresh_stack, start_lab_process, silent_port):
    broker = f"amqp://guest:guest@127.0.0.1:{silent_port}/{TEST_VHOST}"
    api = start_lab_process("api", env={"CELERY_BROKER_URL": broker}).url
    box = {}

    def submit():
        start = time.monotonic()
        with httpx.Client(timeout=30) as http:
            box["response"] = http.post(f"{api}/api/async/process", json={"data": "x", "iterations": 1})
        box["answered"] = time.monotonic()
        box["took"] = box["answered"] - start

    thread = threading.Thread(target=submit)
    thread.start()
    time.sleep(0.3)  # the submission is now stuck publishing
    start = time.monotonic()
    with httpx.Client(timeout=30) as http:
        probe = http.get(f"{api}/api/items")
    probe_answered = time.monotonic()
    probe_took = probe_answered - start
    thread.join(30)
    response = box["response"]
    if response.status_code == 501:
        fail_if_not_started(response.text)
    assert response.status_code == 503, (
        f"with RabbitMQ not answering, the submission should end in 503 with one line, got "
        f"{response.status_code}: {response.text[:200]}"
    )
    assert probe.status_code == 200, f"GET /api/items answered {probe.status_code}"
    # Free, the loop answers the probe while the submission still hangs; blocked, only once the
    # submission gave up (its 503 goes out first, then the probe is served).
    assert probe_answered + ANSWERED_BEFORE < box["answered"], (
        f"GET /api/items took {probe_took:.2f} s while a submission hung for {box['took']:.2f} s: "
        "the event loop was blocked by a call to RabbitMQ: publish with `await broker.publish(...)`, "
        "which runs in a thread with a time limit on every step"
    )
