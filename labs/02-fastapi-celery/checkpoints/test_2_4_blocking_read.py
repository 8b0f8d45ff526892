"""Exercise 2.4: reading a task's state must not block the event loop.

`AsyncResult(task_id).state` is a blocking read of Redis. In an `async def`
route it holds the event loop's only thread for as long as Redis takes: a
result backend that accepts connections and never answers (a hung Redis)
freezes every other request with it. The API is started with such a result
backend; while one status read hangs, the same server must keep answering
GET /api/items. Compared in one run: how long the status read took, and how
long a cheap request sent during it took.
"""

import os
import threading
import time
import uuid

import httpx
import pytest
import redis

from queuelabs.testing.checks import fail_if_not_started, patience


@pytest.mark.exercise("2.4")
def test_a_slow_result_backend_does_not_freeze_the_api(fresh_stack, start_lab_process, silent_port):
    from app import services

    results = f"redis://127.0.0.1:{silent_port}/0"  # accepts connections, never answers
    api = start_lab_process("api", env={"CELERY_RESULT_BACKEND": results}).url
    task_id = str(uuid.uuid4())  # recorded as the submit endpoint would, so the route reads its state
    redis.Redis.from_url(os.environ["REDIS_URL"]).set(services.submission_key(task_id), "reports.process", ex=600)
    idle = []  # GET /api/items with nothing else going on: what "fast" means on this machine now
    for _ in range(5):  # each on a connection of its own, as the probe below
        httpx.get(f"{api}/api/async/status/{uuid.uuid4()}", timeout=60)
        start = time.monotonic()
        httpx.get(f"{api}/api/items", timeout=60)
        idle.append(time.monotonic() - start)
    usual = sorted(idle)[len(idle) // 2]
    box = {}

    def read_status():
        start = time.monotonic()
        with httpx.Client(timeout=60) as http:
            box["response"] = http.get(f"{api}/api/async/status/{task_id}")
        box["took"] = time.monotonic() - start

    thread = threading.Thread(target=read_status)
    thread.start()
    time.sleep(patience(0.3))  # the status read is now waiting for the result backend
    start = time.monotonic()
    with httpx.Client(timeout=60) as http:
        probe = http.get(f"{api}/api/items")
    probe_took = time.monotonic() - start
    thread.join(60)
    assert "took" in box, "GET /api/async/status gave no answer within 60 s while the result backend hung"
    if box["response"].status_code == 501:  # the starter: nothing is read yet
        fail_if_not_started(box["response"].text)
    assert probe.status_code == 200, f"GET /api/items answered {probe.status_code}: {probe.text[:200]}"
    # Blocked, the probe waits as long as the status read; free, it takes about its usual time.
    assert probe_took < max(3 * usual, box["took"] / 3), (
        f"GET /api/items took {probe_took:.2f} s (usually {usual:.2f} s) while a status read waited "
        f"{box['took']:.2f} s for the result "
        "backend: the event loop was blocked. AsyncResult(task_id).state is a blocking read of Redis: read the "
        "task's meta once, in a thread: await run_in_threadpool(celery_app.backend.get_task_meta, task_id)."
    )
