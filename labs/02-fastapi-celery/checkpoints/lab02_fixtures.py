"""Lab 02's own fixtures: a running API and a Celery worker on the checkpoints' stack.

The generic fixtures (code_dir, test_env, stack, spawn, session_spawn,
session_lab_process...) come from the grader plugin, queuelabs/pytest_plugin.py.
Everything here runs against TEST_ENV: MongoDB database queuelabs_test, Redis
database 15 and the RabbitMQ vhost queuelabs-test, never a learner's data.
"""

from __future__ import annotations

import os
import socket
import threading
from urllib.parse import quote

import httpx
import pytest

from queuelabs.pytest_plugin import lab_process_starter
from queuelabs.settings import RABBITMQ_MANAGEMENT_PORT, TEST_VHOST

# Short work, so a whole checkpoint run takes seconds, not minutes. Set here
# for the code imported in the test process, and passed to every worker.
FAST = {"TASK_STEP_SECONDS": "0.05", "EMAIL_SECONDS": "0.05"}
os.environ.update(FAST)

LAB_QUEUES = ("default", "reports", "emails", "celery")
MANAGEMENT = f"http://127.0.0.1:{RABBITMQ_MANAGEMENT_PORT}/api"


def rabbitmq_api(method: str, path: str) -> httpx.Response:
    with httpx.Client(auth=("guest", "guest"), timeout=5) as http:
        return http.request(method, f"{MANAGEMENT}{path}")


def queue_info(name: str) -> dict | None:
    response = rabbitmq_api("GET", f"/queues/{quote(TEST_VHOST, safe='')}/{name}")
    return response.json() if response.status_code == 200 else None


def purge_lab_queues() -> None:
    for name in LAB_QUEUES:
        rabbitmq_api("DELETE", f"/queues/{quote(TEST_VHOST, safe='')}/{name}/contents")


def _fresh_test_stack() -> None:
    """Start every run from empty queues (their arguments included) and empty test stores."""
    import redis
    from pymongo import MongoClient

    for name in LAB_QUEUES:
        rabbitmq_api("DELETE", f"/queues/{quote(TEST_VHOST, safe='')}/{name}")
    redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=5).flushdb()
    with MongoClient(os.environ["MONGODB_URL"], serverSelectionTimeoutMS=3000) as mongo:
        mongo.drop_database(os.environ["MONGODB_DB"])


class Worker:
    """One real `celery worker` process for the checkpoints, started and stopped on demand."""

    def __init__(self, start):
        self._start = start
        self.proc = None

    def start(self, concurrency: int = 2):
        if self.proc is None or not self.proc.alive():
            self.proc = self._start(
                "worker",
                env=FAST,
                extra_args=(f"--concurrency={concurrency}", "--without-mingle", "--without-gossip"),
            )
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
            self.proc = None


@pytest.fixture(scope="session")
def fresh_stack(stack, test_env):
    _fresh_test_stack()


@pytest.fixture(scope="session")
def api(fresh_stack, session_lab_process) -> str:
    """The base URL of the lab's API (the graded code) under a real uvicorn."""
    proc = session_lab_process("api", env=FAST)
    return proc.url


@pytest.fixture(scope="session")
def lab_worker(fresh_stack, lab, session_spawn) -> Worker:
    return Worker(lab_process_starter(lab, session_spawn))


@pytest.fixture
def worker(lab_worker) -> Worker:
    """A running worker (started once, shared; restarted if a test stopped it)."""
    return lab_worker.start()


@pytest.fixture
def celery_app(fresh_stack):
    """The graded code's Celery app, imported in the test process (isolated by TEST_ENV)."""
    from app.celery_app import celery_app as app

    return app


@pytest.fixture
def silent_port():
    """A TCP port that accepts connections and never answers: a hung server."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    conns = []
    done = threading.Event()

    def serve():
        server.settimeout(0.2)
        while not done.is_set():
            try:
                conns.append(server.accept()[0])
            except OSError:
                pass

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1]
    done.set()
    for conn in conns:
        conn.close()
    server.close()
