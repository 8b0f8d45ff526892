"""Exercise 4.3: kill -9 of a pool process and of the worker itself loses no task and charges once.

The checkpoint follows the killed process's own task, by id: the worker names the task each pool
process runs (`celery inspect active`), one of them is killed, and that task, not any other, must be
handed back to RabbitMQ and run again to SUCCESS. Its fate is read from its own record:
- handed back: an attempt of it starts again with delivery_info["redelivered"] (RabbitMQ took the
  reject and delivered the message anew), and only then is the whole worker killed too;
- acknowledged: Celery stores FAILURE (WorkerLostError) right after sending the ack, and the task
  never runs again. The checkpoint fails there, before the worker is killed, so an ack that had not
  reached RabbitMQ yet can never come back as a redelivery and pass.
"""

import socket

import pytest
from celery import Celery

from queuelabs import faults
from queuelabs.isolation import purge_queues
from queuelabs.testing.checks import patience
from queuelabs.waiting import wait_until

SETTINGS = (
    "acknowledge after the task ran (task_acks_late = True) and hand the task of a killed process back "
    "to RabbitMQ (task_reject_on_worker_lost = True)"
)


def running_tasks(worker) -> dict[int, tuple[float, str]]:
    """{pool process pid: (when its task started, the task's id)}, as the worker itself reports it."""
    name = next(arg.split("=", 1)[1] for arg in worker.proc.argv if arg.startswith("--hostname="))
    hostname = name.replace("%h", socket.gethostname())
    app = Celery(broker=worker.proc.env["CELERY_BROKER_URL"])
    try:
        active = app.control.inspect(destination=[hostname], timeout=patience(2)).active() or {}
    finally:
        app.close()
    return {task["worker_pid"]: (task.get("time_start") or 0, task["id"]) for task in active.get(hostname, [])}


def kill_a_busy_pool_process(worker, task_ids: list[str]) -> str:
    """kill -9 the pool process whose task started last (the most work left); that task's id."""
    children = {child.pid for child in worker.proc.children()}
    running = {}

    def found() -> bool:
        running.update(running_tasks(worker))
        return any(pid in children and task_id in task_ids for pid, (_, task_id) in running.items())

    wait_until(found, timeout=patience(10), interval=0.1, what="the worker to report a task running in a pool process")
    pid, (_, task_id) = max(
        ((pid, entry) for pid, entry in running.items() if pid in children and entry[1] in task_ids),
        key=lambda item: item[1][0],
    )
    faults.send(pid, faults.Kill.SIGKILL)
    return task_id


@pytest.mark.exercise("4.3")
def test_kill_9_of_a_child_then_the_parent_loses_nothing(charges, lab_worker, downstream, lab):
    try:
        crash_a_pool_process_then_the_worker(charges, lab_worker, downstream)
    except BaseException:
        # Failed half way, its other tasks still run or wait: they would charge into the next
        # checkpoint's ledger (and answer its lose-the-reply fault). Stop them all.
        lab_worker.stop()
        purge_queues(lab.manifest.checkpoints.queues)
        raise


def crash_a_pool_process_then_the_worker(charges, lab_worker, downstream) -> None:
    from app.db import TASK_RESULTS, sync_database

    lab_worker.start(2)
    task_ids = [charges.task_id(f"crash {i}", 60) for i in range(4)]  # about 3 s of work each
    victim = kill_a_busy_pool_process(lab_worker, task_ids)  # the pool process running it dies

    def fate() -> str | None:
        body = charges.status(victim)
        if body["status"] == "FAILURE":
            return "acknowledged"
        if any(attempt.get("redelivered") for attempt in body.get("history", [])):
            return "handed back"
        return None

    # The worker notices its lost process and deals with that task: hands it back (it starts again,
    # redelivered) or acknowledges it and stores FAILURE. Killed any sooner, the worker would hand
    # back that message whatever the settings.
    outcome = wait_until(
        fate,
        timeout=60,
        interval=0.1,
        what=f"the worker to hand back or fail task {victim}, whose pool process was killed",
    )
    assert outcome == "handed back", (
        f"task {victim}, whose pool process was killed, ended FAILURE (WorkerLostError) and will never run "
        f"again: {SETTINGS}"
    )
    faults.kill_worker_parent(lab_worker.proc)  # then the whole worker, the task running again included
    wait_until(lambda: not lab_worker.proc.alive(), timeout=10, what="the killed worker to be gone")
    lab_worker.start(2)  # a new worker takes over what RabbitMQ hands back
    done = charges.wait_done(task_ids, timeout=30, advice=SETTINGS)
    history = done[victim]["history"]
    assert any(attempt.get("redelivered") for attempt in history), (
        f"task {victim}, whose pool process was killed, finished without a redelivered attempt: {history}"
    )
    assert not downstream.duplicated(), f"charged more than once: {downstream.duplicated()}"
    results = sync_database()[TASK_RESULTS]
    for task_id in task_ids:
        assert results.count_documents({"task_id": task_id}) == 1, f"task {task_id}: not exactly one stored result"


@pytest.mark.exercise("4.3")
def test_the_task_of_a_killed_process_is_handed_back(celery_app):
    # The crash test above shows it happen; this names the settings outright.
    assert celery_app.conf.task_acks_late, "acknowledge after the task ran: task_acks_late = True"
    assert celery_app.conf.task_reject_on_worker_lost, (
        "without task_reject_on_worker_lost = True, the task of a killed pool process is acknowledged "
        "as FAILURE (WorkerLostError) and never runs again"
    )
