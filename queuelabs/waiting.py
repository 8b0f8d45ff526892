"""One way to wait: poll a probe until it returns something truthy, or give up.

Every "wait for the port / the URL / the log line / the process" in the
platform goes through `wait_until`, built on tenacity. A probe that raises
stops the wait at once (a process that died is not worth waiting for).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """The condition did not come true in time. An AssertionError, so a checkpoint reads it as a failure."""


def wait_until(probe: Callable[[], T], *, timeout: float, interval: float = 0.1, what: str = "the condition") -> T:
    """Call `probe` every `interval` s until it returns a truthy value; return that value.

    Raises WaitTimeout("gave up after N s waiting for <what>") when `timeout` passes."""
    retrying = Retrying(
        retry=retry_if_result(lambda value: not value),
        stop=stop_after_delay(timeout),
        wait=wait_fixed(interval),
    )
    try:
        return retrying(probe)
    except RetryError:
        raise WaitTimeout(f"gave up after {timeout:g} s waiting for {what}") from None


def eventually(probe: Callable[[], T], *, timeout: float, interval: float = 0.1) -> T | None:
    """Like wait_until, but None instead of an error: for "wait a while, then carry on"."""
    try:
        return wait_until(probe, timeout=timeout, interval=interval)
    except WaitTimeout:
        return None
