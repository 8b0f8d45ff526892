"""Exercise 2.4: reading a task's state must not block the event loop.

`AsyncResult(task_id).state` is a blocking read of Redis. In an `async def`
route it holds the event loop's only thread for as long as Redis takes: a
result backend that accepts connections and never answers (a hung Redis)
freezes every other request with it. The API is started with such a result
backend; while one status read hangs, the same server must keep answering
GET /api/items.

The hung backend's read gives up after READ_TIMEOUT (the URL's `socket_timeout`, which overrides the
lab's 5 s `redis_socket_timeout`, so a check does not wait out 5 s). The probe is sent once the API
holds a connection to the hung backend, so it lands while the read waits, however slow the machine,
and the verdict is an order, not a duration: a free loop answers the probe before the read gives
up; a blocked one answers it only after (the server sends the status answer first). A read still
waiting ANSWERED_BEFORE after the probe's answer settles it, so a free loop's run does not sit out
the rest of READ_TIMEOUT.
"""

import math
import os
import threading
import time
import uuid

import httpx
import psutil
import pytest
import redis

from queuelabs.testing.checks import fail_if_not_started, wait_for
from queuelabs.testing.contract import client
from queuelabs.testing.responsive import ANSWERED_BEFORE  # a free loop answers this long before the slow answer

READ_TIMEOUT = 1.5  # seconds the status read waits for the hung result backend


def connections_to(pid: int, port: int) -> set[int]:
    """The local ports of the open connections the process (or a child of it) holds to 127.0.0.1:port."""
    try:
        server = psutil.Process(pid)
        processes = [server, *server.children(recursive=True)]
    except psutil.NoSuchProcess:
        return set()
    found = set()
    for proc in processes:
        try:
            connections = proc.net_connections(kind="tcp")
        except psutil.Error:
            continue
        found |= {
            c.laddr.port
            for c in connections
            if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
        }
    return found


@pytest.mark.exercise("2.4")
def test_a_slow_result_backend_does_not_freeze_the_api(fresh_stack, session_lab_process, kept_silent_port):
    from app import services

    # Accepts connections, never answers; a read of it gives up after READ_TIMEOUT. The hung backend
    # and this API live as long as the lab's processes (kept warm between `make check` runs with them).
    results = f"redis://127.0.0.1:{kept_silent_port}/0?socket_timeout={READ_TIMEOUT}"
    server = session_lab_process("api", env={"CELERY_RESULT_BACKEND": results})
    api = server.url
    task_id = str(uuid.uuid4())  # recorded as the submit endpoint would, so the route reads its state
    redis.Redis.from_url(os.environ["REDIS_URL"]).set(services.submission_key(task_id), "reports.process", ex=600)
    idle = []  # GET /api/items with nothing else going on: what "fast" means on this machine now
    with client(api, timeout=60, headers={"Connection": "close"}) as http:
        for _ in range(5):  # each on a connection of its own, as the probe below
            http.get(f"/api/async/status/{uuid.uuid4()}")
            start = time.monotonic()
            http.get("/api/items")
            idle.append(time.monotonic() - start)
    usual = sorted(idle)[len(idle) // 2]
    box = {}

    def read_status():
        with client(api, timeout=60) as http:
            try:
                response = http.get(f"/api/async/status/{task_id}")
                box["said"] = f"answered {response.status_code}"
                if response.status_code == 501:  # the starter: nothing is read yet
                    box["not started"] = response.text
            except httpx.HTTPError as exc:  # the API stopped (the run ended, it crashed) while this read waited
                box["said"] = f"failed ({exc})"
            box["answered"] = time.monotonic()

    before = connections_to(server.pid, kept_silent_port)  # a reused API's, from an earlier read
    read_start = time.monotonic()
    # A daemon: once the verdict is in, nothing waits for the rest of the read (see below).
    thread = threading.Thread(target=read_status, daemon=True)
    thread.start()
    # The status read waits for the result backend once the API holds a new connection to it (the
    # starter answers 501 without reading it): from then on, a blocked loop answers nothing else.
    wait_for(
        lambda: "answered" in box or connections_to(server.pid, kept_silent_port) - before,
        timeout=10,
        interval=0.01,
        what="GET /api/async/status to read the task's state from the result backend",
    )
    probe_start = time.monotonic()
    with client(api, timeout=60) as http:
        probe = http.get("/api/items")
    probe_answered = time.monotonic()
    # Free, the loop answers the probe while the status read still waits; blocked, only once that
    # read gave up (the server sends the status answer first, then serves the probe). A read still
    # waiting ANSWERED_BEFORE after the probe's answer is the free loop's case: the verdict needs no
    # more of it, so a correct run does not sit out the rest of READ_TIMEOUT.
    thread.join(max(0.0, probe_answered + ANSWERED_BEFORE - time.monotonic()))
    answered = box.get("answered", math.inf)
    if "not started" in box:
        fail_if_not_started(box["not started"])
    read_took, probe_took = answered - read_start, probe_answered - probe_start
    assert answered > probe_start, (
        f"GET /api/async/status/{{id}} {box.get('said')} in {read_took:.2f} s without "
        "waiting for the result backend, which never answers: read the task's state from Celery's result backend"
    )
    assert probe.status_code == 200, f"GET /api/items answered {probe.status_code}: {probe.text[:200]}"
    assert probe_answered + ANSWERED_BEFORE < answered, (
        f"GET /api/items took {probe_took:.2f} s (usually {usual:.2f} s): it was answered only when a status "
        f"read gave up waiting {read_took:.2f} s for the result backend: the event loop was blocked. "
        "AsyncResult(task_id).state is a blocking read of Redis: read the task's meta once, in a thread: "
        "await run_in_threadpool(celery_app.backend.get_task_meta, task_id)."
    )
