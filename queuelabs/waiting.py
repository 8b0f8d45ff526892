"""One way to wait: poll a probe until it returns something truthy, or give up.

Every "wait for the port / the URL / the log line / the process / the tasks" in the
platform goes through `wait_until`, built on tenacity. A probe that raises
stops the wait at once (a process that died is not worth waiting for). With
`stall`, a wait that watches something move (`progress`) gives up as soon as
it has stopped moving, and says what it last saw, instead of sitting out the
whole time limit.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

from tenacity import RetryCallState, RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

T = TypeVar("T")


def patience(seconds: float) -> float:
    """A time limit of `seconds` on a quiet machine, longer on a busy one: scaled by the load per CPU
    (up to 4x), and by QUEUELABS_PATIENCE when set (a slow CI runner). Correct code must never fail
    for lack of patience; a limit only ends a wait for something that will never come."""
    busy = os.getloadavg()[0] / (os.cpu_count() or 1)
    return seconds * min(4.0, max(1.0, busy)) * float(os.environ.get("QUEUELABS_PATIENCE", "1"))


class WaitTimeout(AssertionError):
    """The condition did not come true in time. An AssertionError, so a checkpoint reads it as a failure.

    stalled: it gave up because nothing moved, not because the time limit passed."""

    def __init__(self, message: str, *, stalled: bool = False):
        super().__init__(message)
        self.stalled = stalled


class Stall:
    """tenacity stop condition: true once `progress()` has returned the same value for `seconds`."""

    def __init__(self, seconds: float, progress: Callable[[], object]):
        self.seconds, self.progress = seconds, progress
        self.seen: object = None
        self.since = 0.0
        self.stalled = False

    def __call__(self, state: RetryCallState) -> bool:
        now = self.progress()
        if now != self.seen or not self.since:
            self.seen, self.since = now, state.seconds_since_start or 0.0
        self.stalled = (state.seconds_since_start or 0.0) - self.since >= self.seconds
        return self.stalled


def wait_until(
    probe: Callable[[], T],
    *,
    timeout: float,
    interval: float = 0.1,
    what: str = "the condition",
    stall: float | None = None,
    progress: Callable[[], object] | None = None,
) -> T:
    """Call `probe` every `interval` s until it returns a truthy value; return that value.

    Raises WaitTimeout("gave up after N s waiting for <what>") when `timeout` passes, or, with
    `stall` and `progress`, "nothing moved for N s ..." as soon as progress() stops changing."""
    watch = Stall(stall, progress) if stall is not None and progress is not None else None
    stop = stop_after_delay(timeout) if watch is None else stop_after_delay(timeout) | watch
    retrying = Retrying(retry=retry_if_result(lambda value: not value), stop=stop, wait=wait_fixed(interval))
    try:
        return retrying(probe)
    except RetryError:
        seen = f"; last seen: {watch.seen}" if watch is not None else ""
        if watch is not None and watch.stalled:
            raise WaitTimeout(f"nothing moved for {stall:g} s waiting for {what}{seen}", stalled=True) from None
        raise WaitTimeout(f"gave up after {timeout:g} s waiting for {what}{seen}") from None


def eventually(probe: Callable[[], T], *, timeout: float, interval: float = 0.1) -> T | None:
    """Like wait_until, but None instead of an error: for "wait a while, then carry on"."""
    try:
        return wait_until(probe, timeout=timeout, interval=interval)
    except WaitTimeout:
        return None
