"""The one wait helper: a time limit, and stall detection that says what it last saw."""

import itertools
import time

import pytest

from queuelabs.waiting import WaitTimeout, wait_until


def test_a_stalled_wait_gives_up_early_and_says_what_it_last_saw():
    started = time.monotonic()
    with pytest.raises(WaitTimeout) as caught:
        wait_until(lambda: False, timeout=30, interval=0.05, what="the tasks", stall=0.5, progress=lambda: "2 PENDING")
    assert caught.value.stalled
    assert "nothing moved for 0.5 s waiting for the tasks; last seen: 2 PENDING" in str(caught.value)
    assert time.monotonic() - started < 10  # far sooner than the 30 s limit


def test_a_wait_that_keeps_moving_is_not_a_stall():
    count = itertools.count()
    assert wait_until(lambda: next(count) >= 20, timeout=30, interval=0.05, stall=0.5, progress=lambda: next(count))
    with pytest.raises(WaitTimeout) as caught:
        wait_until(lambda: False, timeout=0.5, interval=0.05, stall=5, progress=lambda: time.monotonic())
    assert not caught.value.stalled and "gave up after 0.5 s" in str(caught.value)
