"""Exercise 3.4: the status view, with 404 for ids nobody submitted."""

import pytest

from queuelabs.testing import contract


@pytest.mark.exercise("3.4")
def test_status_of_an_unknown_id_is_404(api, worker):
    contract.check_unknown_task_is_404(api)


@pytest.mark.exercise("3.4")
def test_status_shows_progress_then_the_result(api, worker):
    seen = contract.check_status_reports_progress_then_success(api, iterations=10)
    result = seen[-1]["result"]
    expected = [f"WATCH ME WORK_ITERATION_{n}" for n in range(1, 11)]
    assert result.get("processed_items") == expected and result.get("total") == 10, (
        f"the result should carry processed_items and total: {result}"
    )
