"""Judging a responsiveness measurement (queuelabs/timing.py) in a checkpoint.

The measuring itself is runtime code, shared with `make bench` and the notebooks; what is here
only turns a measurement into a checkpoint's pass or fail, in the learner's words.
"""

from __future__ import annotations

from queuelabs.timing import Call, Measurement, ms

from .checks import fail_if_not_started

# How the checkpoints judge "responsive" (ratios of medians, measured in one run):
#
# FIXED_MAX_RATIO: with the slow requests in flight, the fixed variant's
#   cheap-endpoint median may be at most this many times its idle median.
#   An untouched loop stays near 1x; 5x leaves room for a busy 2-core
#   machine where the test client, the server and a pool process share
#   the cores.
# BLOCKING_MIN_FACTOR: the blocking variant's loaded median must be at least
#   this many times the fixed one's. A frozen loop makes each probe wait
#   for the rest of the freeze (hundreds of ms against about 1 ms), so the
#   real factor is in the hundreds; 10 is a control, not a tight bound.
FIXED_MAX_RATIO = 5.0
BLOCKING_MIN_FACTOR = 10.0


def check_calls(calls: list[Call], what: str) -> None:
    """Every call answered 200; starter code (501) reads as 'not started'."""
    for call in calls:
        if call.status == 501:
            fail_if_not_started(call.body)
        assert call.status == 200, f"{what}: GET {call.path} answered {call.status}: {call.body[:300]}"


def assert_responsive_while_slow(fixed: Measurement) -> None:
    """The fixed variant: the probes ran during the slow requests and barely noticed them."""
    check_calls(fixed.slow, "the fixed variant")
    check_calls(fixed.idle + fixed.loaded, "the cheap endpoint")
    assert fixed.probes_overlapped_slow_requests(), (
        f"{fixed.slow_path} answered before the measurement was over "
        f"(slowest took {ms(max(c.elapsed for c in fixed.slow))}): "
        "the report must still do its slow work, just without blocking the loop"
    )
    assert fixed.ratio < FIXED_MAX_RATIO, (
        f"the server stalls while {fixed.slow_path} runs: {fixed.summary()}; "
        f"expected under x{FIXED_MAX_RATIO:g}. Is something still blocking the event loop?"
    )


def assert_blocking_is_much_worse(blocking: Measurement, fixed: Measurement) -> None:
    """The control: the blocking variant, measured in the same run, freezes the probes."""
    check_calls(blocking.slow + blocking.loaded, "the blocking variant (control)")
    factor = blocking.loaded_p50 / fixed.loaded_p50
    assert factor >= BLOCKING_MIN_FACTOR, (
        f"control failed: {blocking.slow_path} should freeze the cheap endpoint, but its loaded median "
        f"{ms(blocking.loaded_p50)} is only x{factor:.1f} the fixed variant's "
        f"{ms(fixed.loaded_p50)}; is the machine overloaded?"
    )
