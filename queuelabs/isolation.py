"""The checkpoints' own corner of the stack, so they never touch a learner's data.

Every process a checkpoint starts gets TEST_ENV (queuelabs/settings.py):
MongoDB database `queuelabs_test`, Redis database 15 and the RabbitMQ vhost
`queuelabs-test`. A lab's checkpoint run starts from empty stores and freshly
declared queues (a queue keeps the arguments it was first declared with, so a
stale one would hide a change such as x-max-priority).

Two grading runs at once (`make watch` in one terminal, `make check` in
another) would empty each other's stores and steal each other's messages, so
one run at a time holds the test stack (`hold_the_test_stack`); the other says
so in one line and waits its turn.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from collections.abc import Callable
from typing import IO
from urllib.parse import quote

import httpx

from queuelabs import local_http
from queuelabs.settings import RABBITMQ_MANAGEMENT_PORT, RUN_DIR, TEST_VHOST

LOCK_PATH = RUN_DIR / "grading.lock"
# Set once a run holds the lock: the pytest runs it starts itself (make test's) inherit it.
LOCK_HELD = "QUEUELABS_TEST_STACK_HELD"
_held: list[IO[str]] = []  # the open lock file, kept for the life of the process


def hold_the_test_stack() -> None:
    """Wait until no other grading run uses the test stack, then hold it until this process ends."""
    if _held or os.environ.get(LOCK_HELD):
        return
    LOCK_PATH.parent.mkdir(parents=True, exist_ok=True)
    lock = LOCK_PATH.open("a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        owner = lock.read().strip() or "another grading run"
        print(
            f"\nwaiting for {owner}: one grading run at a time uses the checkpoints' vhost, database and "
            "Redis index (this one starts when it ends; Ctrl+C to give up)",
            file=sys.__stderr__,
            flush=True,
        )
        fcntl.flock(lock, fcntl.LOCK_EX)
    lock.truncate(0)
    command = " ".join(sys.argv[1:])[:100]
    lock.write(f"the grading run of pid {os.getpid()} ({command}, since {time.strftime('%H:%M:%S')})")
    lock.flush()
    os.environ[LOCK_HELD] = str(os.getpid())
    _held.append(lock)


MANAGEMENT = f"http://127.0.0.1:{RABBITMQ_MANAGEMENT_PORT}/api"


def rabbitmq_api(method: str, path: str, **kwargs) -> httpx.Response:
    """One call to RabbitMQ's management API (HTTP), as guest."""
    with local_http.client(auth=("guest", "guest"), timeout=5) as http:
        return http.request(method, f"{MANAGEMENT}{path}", **kwargs)


def _queue_path(name: str, vhost: str) -> str:
    return f"/queues/{quote(vhost, safe='')}/{quote(name, safe='')}"


# The queue helpers below take the management API to call: this node's (rabbitmq_api) by default,
# or `make cluster`'s (cluster/clients.py's `management`, None when no node answers).
ManagementApi = Callable[[str, str], "httpx.Response | None"]


def queue_info(name: str, vhost: str = TEST_VHOST, api: ManagementApi = rabbitmq_api) -> dict | None:
    """The management API's view of a queue (arguments, messages...), or None when it does not exist."""
    response = api("GET", _queue_path(name, vhost))
    return response.json() if response is not None and response.status_code == 200 else None


def purge_queues(
    names: tuple[str, ...] | list[str], vhost: str = TEST_VHOST, api: ManagementApi = rabbitmq_api
) -> None:
    for name in names:
        api("DELETE", f"{_queue_path(name, vhost)}/contents")


def delete_queues(
    names: tuple[str, ...] | list[str], vhost: str = TEST_VHOST, api: ManagementApi = rabbitmq_api
) -> None:
    for name in names:
        api("DELETE", _queue_path(name, vhost))


def fresh_test_stack(queues: tuple[str, ...], needs: tuple[str, ...], keep: bool = False) -> None:
    """Empty the checkpoints' stores and delete their queues, for the services a lab needs.

    keep: empty the queues and collections without deleting them, for processes that declared them
    and keep running (a deleted queue cancels a worker's consumer; a dropped collection loses the
    unique index an API created at start-up). A cluster lab's corner: cluster/clients.py's
    fresh_test_corner."""
    if "rabbitmq" in needs and queues:
        (purge_queues if keep else delete_queues)(queues)
    if "redis" in needs:
        import redis

        redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=5).flushdb()
    if "mongodb" in needs:
        from pymongo import MongoClient

        with MongoClient(os.environ["MONGODB_URL"], serverSelectionTimeoutMS=3000) as mongo:
            database = mongo[os.environ["MONGODB_DB"]]
            if keep:
                for name in database.list_collection_names():
                    database[name].delete_many({})
            else:
                mongo.drop_database(database)
