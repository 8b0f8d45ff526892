"""The solution's own tests: what the partition row of `make chaos LAB=05` asked of the worker.

Run by `queuelabs prove 05` on the solution only (no exercise marks), on `make cluster`.
"""

import threading
import time
import uuid

from queuelabs.cluster import redis as cluster_redis
from queuelabs.settings import CLUSTER

REFUSING_SECONDS = 2.0


def test_a_result_write_refused_with_noreplicas_waits_for_the_primary(celery_app, nodes):
    """A primary back from a cut refuses writes (NOREPLICAS) until the Sentinels demote it. The
    result backend must retry that refusal, as it retries a lost connection, not fail the task."""
    task_id = f"noreplicas-{uuid.uuid4()}"
    primary = cluster_redis.client(CLUSTER.redis[nodes.redis_primary() - 1])
    primary.config_set("min-replicas-to-write", 5)  # more replicas than there are: every write is refused
    try:
        threading.Timer(REFUSING_SECONDS, primary.config_set, ("min-replicas-to-write", 0)).start()
        started = time.monotonic()
        celery_app.backend.store_result(task_id, {"ok": True}, "SUCCESS")
        waited = time.monotonic() - started
    finally:
        primary.config_set("min-replicas-to-write", 0)
    assert celery_app.backend.get_task_meta(task_id)["status"] == "SUCCESS"
    assert waited >= REFUSING_SECONDS * 0.9, f"stored after {waited:.1f} s: was the write ever refused?"
