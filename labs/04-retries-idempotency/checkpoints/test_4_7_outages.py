"""Exercise 4.7: confirmed publishing, and Redis or MongoDB outages that lose no accepted task."""

import os
import time

import pytest

from queuelabs import faults
from queuelabs.waiting import wait_until

OUTAGE = float(os.environ.get("OUTAGE_SECONDS", "3"))


@pytest.mark.exercise("4.7")
def test_publishing_waits_for_rabbitmq_confirms(celery_app):
    options = celery_app.conf.broker_transport_options or {}
    assert options.get("confirm_publish") is True, "a 202 must wait for RabbitMQ's confirm: confirm_publish"
    assert celery_app.conf.result_backend_always_retry, "the worker must retry a result backend that is down"


@pytest.mark.exercise("4.7")
@pytest.mark.parametrize("service", ["redis", "mongodb"])
def test_an_outage_while_tasks_run_loses_none(service, charges, worker, downstream):
    if service == "mongodb":  # the starter of 4.1 retries everything, so the outage alone cannot tell
        import pymongo.errors

        from app import tasks  # the graded code

        timeout = pymongo.errors.NetworkTimeout  # what a frozen MongoDB raises after socketTimeoutMS
        assert issubclass(timeout, tasks.OUTAGE_ERRORS or ()), (
            "a MongoDB that does not answer must be retried: OUTAGE_ERRORS"
        )
    task_ids = [charges.task_id(f"{service} outage {i}", 10) for i in range(6)]  # about 0.5 s of work each
    # The outage must hit tasks at work (a slow worker start would let them all run after it):
    # freeze once the worker has started one; the others start, and write, during the outage.
    wait_until(
        lambda: any(charges.status(t)["status"] != "PENDING" for t in task_ids),
        timeout=20,
        interval=0.05,
        what="the worker to start one of the tasks",
    )
    with faults.frozen(faults.service_pid(service)):  # the server stops answering: an outage
        time.sleep(OUTAGE)
    charges.wait_done(task_ids, timeout=30)
    assert not downstream.duplicated(), f"charged more than once: {downstream.duplicated()}"
