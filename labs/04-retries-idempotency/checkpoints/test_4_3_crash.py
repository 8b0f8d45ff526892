"""Exercise 4.3: kill -9 of a pool process and of the worker itself loses no task and charges once."""

import pytest

from queuelabs import faults
from queuelabs.testing.checks import patience
from queuelabs.waiting import wait_until


def handled_the_lost_task(charges, task_ids: list[str], worker_log, processes: int) -> bool:
    """The worker gave the lost task back (it ran again) or failed it, AND RabbitMQ has heard: the
    slot it freed was filled with a new delivery (one more 'received' than the pool's processes).
    A reject or ack still in the worker's socket would be lost with it when it is killed."""
    if worker_log.read_text(errors="replace").count("] received") <= processes:
        return False
    for task_id in task_ids:
        body = charges.status(task_id)
        if body["status"] == "FAILURE" or any(a.get("redelivered") for a in body.get("history", [])):
            return True
    return False


@pytest.mark.exercise("4.3")
def test_kill_9_of_a_child_then_the_parent_loses_nothing(charges, lab_worker, downstream):
    from app.db import TASK_RESULTS, sync_database

    lab_worker.start(2)
    task_ids = [charges.task_id(f"crash {i}", 20) for i in range(6)]  # about 1 s of work each
    wait_until(
        lambda: charges.status(task_ids[0])["status"] == "STARTED", timeout=patience(10), what="the first task to start"
    )
    faults.kill_worker_child(lab_worker.proc)  # the pool process running a task dies
    # Kill the worker only once it has dealt with the lost child's task: handed it back (it runs
    # again, redelivered) or, without task_reject_on_worker_lost, acknowledged it and stored a
    # FAILURE. Killed any sooner, the worker would hand back that message whatever the setting.
    wait_until(
        lambda: handled_the_lost_task(charges, task_ids, lab_worker.proc.log_path, processes=2),
        timeout=60,
        interval=0.1,
        what="the worker to hand back or fail the task of its killed pool process",
    )
    faults.kill_worker_parent(lab_worker.proc)  # then the whole worker
    wait_until(lambda: not lab_worker.proc.alive(), timeout=10, what="the killed worker to be gone")
    lab_worker.start(2)  # a new worker takes over what RabbitMQ hands back
    done = charges.wait_done(
        task_ids,
        timeout=30,
        advice="task_reject_on_worker_lost hands back the task of a killed process",
    )
    redelivered = [t for t, body in done.items() if any(a.get("redelivered") for a in body["history"])]
    assert redelivered, "no attempt saw delivery_info['redelivered']: were the killed tasks handed back?"
    assert not downstream.duplicated(), f"charged more than once: {downstream.duplicated()}"
    results = sync_database()[TASK_RESULTS]
    for task_id in task_ids:
        assert results.count_documents({"task_id": task_id}) == 1, f"task {task_id}: not exactly one stored result"


@pytest.mark.exercise("4.3")
def test_the_task_of_a_killed_process_is_handed_back(celery_app):
    # The crash test above shows it happen; this names the settings outright, since a worker killed
    # before it sent its ack hands the message back whatever they say (a busy or a quick machine).
    assert celery_app.conf.task_acks_late, "acknowledge after the task ran: task_acks_late = True"
    assert celery_app.conf.task_reject_on_worker_lost, (
        "without task_reject_on_worker_lost = True, the task of a killed pool process is acknowledged "
        "as FAILURE (WorkerLostError) and never runs again"
    )
