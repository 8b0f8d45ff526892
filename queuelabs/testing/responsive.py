"""Judging a race (queuelabs/timing.py) in a checkpoint: is the event loop free while slow work runs?

The measuring itself is runtime code; what is here only turns a race into a checkpoint's pass or
fail, in the learner's words. The verdict is an order, not a ratio of durations (a loaded machine
stretches every duration, never the order): a free loop answers the probes sent during the slow
requests before the first of them is answered; a blocked loop answers a probe that reached it while
it was blocked only after the slow answer it was busy with.
"""

from __future__ import annotations

from queuelabs.timing import Call, Race, ms

from .checks import fail_if_not_started

# Seconds: a free loop answers each early probe at least this long before the first slow answer.
# It has half that wait (0.4 s and more) to do so; a blocked loop answers it just after, or in
# the same instant (the order of two answers read by the client together is not a verdict).
ANSWERED_BEFORE = 0.1


def check_calls(calls: list[Call], what: str, *, when_500: str = "") -> None:
    """Every call answered 200; starter code (501) reads as 'not started'."""
    for call in calls:
        if call.status == 501:
            fail_if_not_started(call.body)
        advice = f" ({when_500})" if call.status == 500 and when_500 else ""
        assert call.status == 200, f"{what}: GET {call.path} answered {call.status}{advice}: {call.body[:300]}"


def assert_loop_free_while_slow(race: Race, *, advice: str, when_500: str = "") -> None:
    """The probes sent while the slow requests ran were answered before the first of them."""
    check_calls(race.slow, "the fixed variant", when_500=when_500)
    check_calls(race.probes, "the cheap endpoint")
    early = race.early_probes()
    assert early, (
        f"{race.slow_path} answered in {ms(race.first_answer - race.sent)}, before a probe could go out: "
        "the report must still do its slow work, just without blocking the loop"
    )
    late = race.answered_late(ANSWERED_BEFORE)
    if late:
        probe = late[0]
        raise AssertionError(
            f"GET {probe.path}, sent {ms(probe.start - race.sent)} after {race.slow_path}, was answered only "
            f"when that report was ({ms(probe.elapsed)} for a ping): the report is blocking the event loop: {advice}"
        )
