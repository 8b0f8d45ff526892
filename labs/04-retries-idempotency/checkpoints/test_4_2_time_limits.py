"""Exercise 4.2: a hanging payment service becomes a retry within the time limits, not a stuck worker."""

import time

import psutil
import pytest

from queuelabs import faults
from queuelabs.waiting import wait_until


@pytest.mark.exercise("4.2")
def test_the_task_has_a_soft_limit_below_its_hard_limit(celery_app):
    from app.tasks import charge

    soft, hard = charge.soft_time_limit, charge.time_limit
    assert soft and hard, f"payments.charge needs soft_time_limit and time_limit (got {soft!r}, {hard!r})"
    assert soft < hard, f"the soft limit ({soft}) must come before the hard limit ({hard}), so the task can react"


@pytest.mark.exercise("4.2")
def test_a_hang_becomes_a_retry_and_still_charges_once(charges, worker, downstream):
    hang = float(downstream.ledger()["faults"]["hang_seconds"])
    downstream.faults(hang_next=1)  # the first call hangs (then charges anyway, late)
    started = time.monotonic()
    task_id = charges.task_id("hang on", 1)
    final = charges.wait_done([task_id], timeout=hang + 10)[task_id]
    first = final["history"][0]
    assert first.get("outcome") == "retry", (
        f"the hung call should have timed out and been retried; the first attempt says {first}"
    )
    assert time.monotonic() - started < hang, "the task waited for the hung call instead of giving up on it"
    time.sleep(max(0.0, hang - (time.monotonic() - started)) + 0.5)  # let the hung call charge, late
    charged = downstream.charges_of(task_id)
    if all(c.get("idempotency_key") for c in charged):  # exercise 4.4 done: the retry replays the late charge
        assert len(charged) == 1, "the late charge of the hung call and the retry must be one charge"


@pytest.mark.exercise("4.2")
def test_the_hard_limit_frees_a_process_the_soft_limit_cannot_reach(
    charges, lab_worker, downstream, test_env, celery_app
):
    """Freeze the pool process mid-task (SIGSTOP): no Python code runs in it, so the soft limit's
    exception can never be raised there. Only the hard limit helps: the worker's main process kills
    the frozen one and starts a new one, and the worker serves the next task."""
    from app.tasks import charge

    assert charge.time_limit or celery_app.conf.task_time_limit, (  # on the task, or for every task
        "payments.charge has no time_limit: a frozen pool process would hold its slot for ever"
    )
    hard = float(test_env["HARD_TIME_LIMIT_SECONDS"])
    lab_worker.stop()  # a fresh worker with one slot: if it stays stuck, nothing else runs
    lab_worker.start(1)
    stuck = charges.task_id("frozen mid-task", 40)  # about 2 s of work
    wait_until(lambda: charges.status(stuck)["status"] == "STARTED", timeout=10, what="the task to start")
    (process,) = lab_worker.proc.children()
    faults.freeze(process.pid)
    try:
        after = charges.task_id("submitted after the freeze", 1)
        try:
            charges.wait_done([after], timeout=hard + 10, stall=hard + 10)
        except AssertionError:
            raise AssertionError(
                f"the frozen pool process still holds the only slot {hard + 10:g} s later: no hard time limit "
                "killed it, so the worker looks alive and runs nothing"
            ) from None
    finally:
        if process.is_running() and process.status() == psutil.STATUS_STOPPED:
            faults.thaw(process.pid)
    log = lab_worker.proc.log_tail(200)
    try:
        check_the_killed_task(charges, downstream, celery_app, stuck, log)
    finally:
        lab_worker.stop()  # the next checkpoint starts its own worker, with its own number of slots


def check_the_killed_task(charges, downstream, celery_app, stuck: str, log: str) -> None:
    assert "Hard time limit" in log, "the worker log does not mention the hard limit"
    if celery_app.conf.task_acks_late:  # exercise 4.3 done: the killed task is handed back, not dropped
        final = charges.wait_done(
            [stuck],
            timeout=20,
            advice="acks_on_timeout=False hands a task killed by the hard limit back",
        )[stuck]
        assert any(a.get("redelivered") for a in final["history"]), (
            f"the task killed by the hard limit should run again, redelivered; its history: {final['history']}"
        )
        assert downstream.charges_for(stuck) == 1, "the task killed by the hard limit must still charge once"
