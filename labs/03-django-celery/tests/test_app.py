"""The reference's own tests: the business logic without a broker, and health with a real worker."""

import pytest

from queuelabs.testing import contract


def test_process_data_reports_every_iteration(django_ready):
    from jobs import services

    seen = []
    result = services.process_data("abc", 3, step_seconds=0, on_progress=seen.append)
    assert [p["current"] for p in seen] == [1, 2, 3] and seen[-1]["percent"] == 100
    assert result["processed_items"] == ["ABC_ITERATION_1", "ABC_ITERATION_2", "ABC_ITERATION_3"]
    assert result["total"] == 3


def test_store_result_keeps_one_document_per_task(django_ready):
    from jobs import services
    from jobs.models import TaskResult

    services.store_result("same-id", "reports.process", {"n": 1})
    services.store_result("same-id", "reports.process", {"n": 2})
    stored = TaskResult.objects.get(task_id="same-id")
    assert TaskResult.objects.filter(task_id="same-id").count() == 1
    assert stored.result == {"n": 1} and stored.deliveries == 2


def test_health_is_healthy_with_a_worker(api, worker):
    assert contract.check_health(api, worker_running=True)["down"] == []


@pytest.mark.parametrize("path", ["/api/nothing", "/api/items/"])
def test_unknown_paths_answer_json_404(api, path):
    import httpx

    response = httpx.get(f"{api}{path}", timeout=5)
    assert response.status_code == 404 and "detail" in response.json()
