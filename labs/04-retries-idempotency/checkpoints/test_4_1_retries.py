"""Exercise 4.1: transient errors are retried with capped, jittered, growing delays; refusals are not."""

import random

import pytest


@pytest.mark.exercise("4.1")
def test_backoff_grows_is_capped_and_uses_full_jitter():
    from app import services

    rng = random.Random(4)
    for retries in range(8):
        window = min(8.0, 0.5 * 2**retries)
        delays = [services.backoff_delay(retries, base=0.5, cap=8.0, rng=rng) for _ in range(300)]
        assert all(0 <= d <= window for d in delays), (
            f"backoff_delay, retry {retries + 1}: delays must lie in [0, min(cap, base * 2**retries)] = [0, {window}], "
            f"got {min(delays):.2f}..{max(delays):.2f}"
        )
        assert min(delays) < 0.2 * window and max(delays) > 0.8 * window, (
            f"backoff_delay, retry {retries + 1}: full jitter spreads delays over the whole window [0, {window}], "
            f"got {min(delays):.2f}..{max(delays):.2f}"
        )


@pytest.mark.exercise("4.1")
@pytest.mark.provokes("DownstreamUnavailable: payment service answered")
def test_transient_failures_are_retried_until_the_charge_succeeds(charges, worker, downstream):
    downstream.faults(fail_next=2)  # the payment service answers 503 twice, then works
    task_id = charges.task_id("retry me", 2)
    final = charges.wait_done([task_id], timeout=15)[task_id]
    outcomes = [attempt.get("outcome") for attempt in final["history"]]
    assert outcomes == ["retry", "retry", "success"], (
        f"expected two retries then a success, the timeline says {outcomes}"
        + (" (None: that attempt recorded no outcome; call services.record_outcome)" if None in outcomes else "")
    )
    assert final["attempts"] == 3, f"the status should count 3 attempts, it says {final['attempts']}"
    assert downstream.ledger()["calls"] == 3, "the payment service should have been called 3 times"
    assert downstream.charges_for(task_id) == 1


@pytest.mark.exercise("4.1")
@pytest.mark.provokes("DownstreamRejected: payment service refused")
def test_a_refusal_fails_at_once_without_retries(charges, worker, downstream):
    downstream.faults(refuse_next=1)  # 402: the card is declined; asking again changes nothing
    task_id = charges.task_id("declined", 1)
    final = charges.wait_done(
        [task_id],
        timeout=10,
        want="FAILURE",
        advice="a declined card was retried: retry only RETRY_ON, not every exception",
    )[task_id]
    assert "DownstreamRejected" in (final.get("error") or ""), f"expected DownstreamRejected, got {final.get('error')}"
    assert final["attempts"] == 1, f"a refusal must not be retried, yet the task ran {final['attempts']} times"
    assert downstream.ledger()["calls"] == 1


@pytest.mark.exercise("4.1")
@pytest.mark.provokes("DownstreamUnavailable: payment service answered")
def test_a_task_that_exhausts_its_retries_records_that_it_gave_up(charges, worker, downstream):
    downstream.faults(fail_rate=1)  # the payment service is down for good
    task_id = charges.task_id("never paid", 1)
    final = charges.wait_done([task_id], timeout=20, want="FAILURE")[task_id]
    outcomes = [attempt.get("outcome") for attempt in final["history"]]
    assert outcomes and outcomes[-1] == "gave up", (
        f"a task that used up its retries ends FAILURE, and its last attempt must say so: the timeline says "
        f'{outcomes}. Record outcome="gave up" (services.record_outcome) before the final raise'
    )
    downstream.faults(fail_rate=0)
