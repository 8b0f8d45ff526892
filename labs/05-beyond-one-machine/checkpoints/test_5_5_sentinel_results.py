"""Exercise 5.5: a kill -9 of the Redis primary costs seconds of 503 on the status, no result.

Redis holds what the API answers from: which task ids were submitted (the API's own client) and each
task's state and result (Celery's result backend, in the API and the worker). The checkpoint lets a
few tasks finish, starts more, makes sure the replica has copied everything (WAIT), then kills the
primary (SIGKILL) and keeps it down. The Sentinels promote the replica; a client that asks them
where the primary is follows it: the status answers again, the tasks running meanwhile store their
results, and the results stored before the kill are still there.
"""

import httpx
import pytest

from queuelabs.cluster import redis
from queuelabs.settings import CLUSTER, HOST
from queuelabs.testing.checks import patience
from queuelabs.waiting import WaitTimeout, wait_until

SENTINELS = "ask the Sentinels where the primary is (sentinel://... and master_name), never one server's address"


def check_result_backend(celery_app) -> None:
    """Celery's result backend, read before any task is sent."""
    from celery.backends.redis import SentinelBackend

    if not isinstance(celery_app.backend, SentinelBackend):
        pytest.fail(
            f"Celery's result backend is one Redis server ({celery_app.conf.result_backend}): after a failover it "
            "names a dead server, then a replica that refuses writes. Give result_backend the Sentinels "
            "(settings.REDIS_URL) and a 'master_name' (REDIS_MASTER_NAME) in result_backend_transport_options",
            pytrace=False,
        )
    if not (celery_app.conf.result_backend_transport_options or {}).get("master_name"):
        pytest.fail(
            "result_backend lists the Sentinels but result_backend_transport_options has no master_name: "
            "the Sentinels know the primary by the name they watch (REDIS_MASTER_NAME)",
            pytrace=False,
        )


def copied_to_the_replica(number: int) -> None:
    """WAIT until the replica has every write the primary has taken so far."""
    with redis.client(CLUSTER.redis[number - 1], timeout=patience(5)) as primary:
        wait_until(
            lambda: primary.execute_command("WAIT", 1, 1000) >= 1,
            timeout=patience(20),
            what="the Redis replica to copy the primary's writes (make cluster: is the replica linked?)",
        )


@pytest.mark.exercise("5.5")
def test_status_and_results_survive_a_kill_9_of_the_redis_primary(charges, lab_worker, downstream, celery_app, nodes):
    check_result_backend(celery_app)
    lab_worker.start(2)
    finished = [charges.task_id(f"before {i}", 2) for i in range(3)]
    charges.wait_done(finished)
    running = [charges.task_id(f"during {i}", 40) for i in range(4)]  # about 2 s of work each
    wait_until(lambda: charges.status(running[0])["status"] == "STARTED", timeout=patience(20), what="a task to start")
    primary = nodes.redis_primary()
    copied_to_the_replica(primary)  # what the kill may lose is what the lesson says Redis may lose, nothing more
    nodes.kill_redis(primary)

    def promoted_server() -> int | None:
        number = redis.primary_number()
        return None if number in (None, primary) else number

    promoted = wait_until(
        promoted_server,
        timeout=patience(60),
        interval=0.5,
        what="the Sentinels to promote the replica",
    )
    last = {"answer": "no answer"}

    def status_answers() -> bool:
        try:
            response = charges.http.get(f"/api/async/status/{finished[0]}")
        except httpx.TimeoutException:
            last["answer"] = "no answer in time"
            return False
        last["answer"] = f"{response.status_code} {response.text[:200]}"
        return response.status_code == 200

    try:
        wait_until(status_answers, timeout=patience(20), interval=0.3, what="the status to answer again")
    except WaitTimeout:
        pytest.fail(
            f"the Sentinels promoted {HOST}:{CLUSTER.redis[promoted - 1]}, and the status still answers "
            f"{last['answer']}: the API's own Redis client (make_redis in main.py) must {SENTINELS}",
            pytrace=False,
        )
    charges.wait_done(
        running, timeout=60, stall=30, failing_over=True, advice=f"Celery's result backend must {SENTINELS}"
    )
    for task_id in finished:
        body = charges.status(task_id)
        assert body["status"] == "SUCCESS" and body.get("result"), (
            f"task {task_id} ended SUCCESS before the kill and reads {body['status']} after the failover: "
            "its result was lost"
        )
    assert not downstream.duplicated(), f"charged more than once: {downstream.duplicated()}"
