"""Small helpers for writing checkpoints: assertions that read starter code as "not started"."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from queuelabs.waiting import patience, wait_until

__all__ = [
    "NOT_DONE",
    "ExerciseNotStarted",
    "check_response",
    "fail_if_not_started",
    "patience",  # lives in queuelabs/waiting.py; checkpoints import it from here
    "wait_for",
]

T = TypeVar("T")

# The starter raises NotImplementedError("Exercise 2.3 is not done yet: ...");
# the lab apps answer it with HTTP 501 and the same text, and a Celery task
# that raises it fails with it. Seeing this text means "not started".
NOT_DONE = re.compile(r"Exercise \d+\.\d+ is not done yet(?:[^\"'\n]|(?<=\w)'(?=\w))*")  # "a task's" is a word


class ExerciseNotStarted(AssertionError):
    """The code under test still raises the starter's NotImplementedError."""


def fail_if_not_started(text: object) -> None:
    """Raise ExerciseNotStarted when a response body, error or log shows starter code."""
    match = NOT_DONE.search(str(text))
    if match:
        raise ExerciseNotStarted(match.group(0))


def check_response(response, *, expected: int | tuple[int, ...]):
    """Assert an HTTP status, turning a 501 from starter code into "not started"."""
    expected = (expected,) if isinstance(expected, int) else expected
    if response.status_code == 501:
        fail_if_not_started(response.text)
    assert response.status_code in expected, (
        f"{response.request.method} {response.request.url.path} answered "
        f"{response.status_code}, expected {' or '.join(map(str, expected))}: {response.text[:300]}"
    )
    return response


def wait_for(probe: Callable[[], T | None], *, timeout: float, interval: float = 0.1, what: str = "the condition") -> T:
    """Call `probe` until it returns something truthy; fail with `what` after `timeout` s (more on a
    busy machine: see patience)."""
    return wait_until(probe, timeout=patience(timeout), interval=interval, what=what)
