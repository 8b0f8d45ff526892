"""A task that finishes while MongoDB is hung (SIGSTOP of mongod, by pid) is retried, not
marked FAILURE, and its result is stored once MongoDB answers again: labs 02 and 03."""

from __future__ import annotations

import os

from pymongo import MongoClient

from queuelabs import local_http
from queuelabs.faults import frozen, service_pid
from queuelabs.isolation import purge_queues

from ..waiting import wait_until
from . import contract


def wait_until_no_task_waits(celery_app, queues: tuple[str, ...]) -> None:
    """Earlier tests may leave tasks queued or held by the worker; behind them, the task this
    check follows would start late and miss the outage. Purge the queues, then let the worker
    finish what it already holds."""
    purge_queues(queues)

    def idle() -> bool:
        inspect = celery_app.control.inspect(timeout=2)
        held = [*(inspect.active() or {}).values(), *(inspect.reserved() or {}).values()]
        return not any(held)

    wait_until(idle, timeout=180, interval=1)


def check_a_result_write_during_a_mongodb_outage_is_retried(
    api: str, celery_app, results_collection: str, queues: tuple[str, ...] = ("default", "reports")
) -> None:
    wait_until_no_task_waits(celery_app, queues)

    def state(task_id: str) -> str:
        return celery_app.backend.get_task_meta(task_id, cache=False)["status"]

    with local_http.client(api, timeout=60) as http:
        # 40 steps of 0.05 s: still working when mongod freezes, a moment later
        task_id = contract.submit(http, data="through an outage", iterations=40)["task_id"]
    seen = []
    with frozen(service_pid("mongodb")):
        # The work needs no MongoDB; storing its result does, and gets no answer.
        wait_until(lambda: seen.append(state(task_id)) or seen[-1] in ("RETRY", "FAILURE"), timeout=60, interval=0.1)
    assert seen[-1] == "RETRY", f"with MongoDB hung, the task ended {seen[-1]} instead of being retried"
    wait_until(lambda: seen.append(state(task_id)) or seen[-1] in ("SUCCESS", "FAILURE"), timeout=90, interval=0.2)
    assert seen[-1] == "SUCCESS", f"after MongoDB came back the task ended {seen[-1]}"
    with MongoClient(os.environ["MONGODB_URL"], serverSelectionTimeoutMS=5000) as mongo:
        stored = mongo[os.environ["MONGODB_DB"]][results_collection].find_one({"_id": task_id})
    assert stored is not None and stored["result"]["total"] == 40, stored
