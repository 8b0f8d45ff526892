"""Exercise 2.2: the heavy task reports PROGRESS {current, total, percent, message}.

The task is published from the test process and run by a real worker; its
states are read from the result backend (Redis), as the API would.
"""

import json
import time

import pytest

from queuelabs.testing import contract
from queuelabs.testing.checks import fail_if_not_started


def run_and_watch(task, timeout: float = 15.0, **kwargs):
    result = task.apply_async(kwargs=kwargs)
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state, info = result.state, result.info
        seen.append((state, info))
        if state == "FAILURE":
            fail_if_not_started(info)
            raise AssertionError(f"the task failed: {type(info).__name__}: {info}")
        if state == "SUCCESS":
            return seen
        time.sleep(0.02)
    raise AssertionError(f"the task did not finish within {timeout:g} s (last state {seen[-1][0] if seen else None})")


@pytest.mark.exercise("2.2")
def test_task_reports_progress(worker):
    from app.tasks import process_report

    seen = run_and_watch(process_report, data="progress please", iterations=12)
    progress = [info for state, info in seen if state == "PROGRESS"]
    assert progress, f"never saw the PROGRESS state (saw {sorted({s for s, _ in seen})}): call self.update_state"
    for info in progress:
        contract.check_progress(info, total=12)
    assert len({p["current"] for p in progress}) >= 2, "progress should move: report it after every iteration"


@pytest.mark.exercise("2.2")
def test_task_returns_a_json_result(worker):
    from app.tasks import process_report

    seen = run_and_watch(process_report, data="two words", iterations=3)
    result = seen[-1][1]
    assert isinstance(result, dict), f"the task should return a dict, got {result!r}"
    json.dumps(result)  # JSON-safe
    assert result.get("iterations") == 3 and result.get("characters") == len("two words"), result
