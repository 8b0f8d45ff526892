"""Exercise 4.2: a hanging payment service becomes a retry within the time limits, not a stuck worker."""

import time

import pytest


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
    assert downstream.charges_for(task_id) == 1, "the late charge of the hung call and the retry must be one charge"
