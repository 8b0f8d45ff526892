"""Exercise 2.7: the reports queue is a priority queue (the ordering itself: test_contract.py)."""

import pytest

from queuelabs.isolation import queue_info


@pytest.mark.exercise("2.7")
def test_reports_queue_is_declared_with_x_max_priority(celery_app, worker):
    from app.celery_app import PRIORITY_LEVELS

    queues = {q.name: q for q in (celery_app.conf.task_queues or ())}
    assert "reports" in queues, "there is no reports queue yet (exercise 2.1)"
    declared = (queues["reports"].queue_arguments or {}).get("x-max-priority")
    assert declared, "the reports Queue has no queue_arguments={'x-max-priority': ...}: priorities are ignored"
    assert max(PRIORITY_LEVELS.values()) <= declared, f"priorities {PRIORITY_LEVELS} exceed x-max-priority {declared}"
    info = queue_info("reports")
    assert info is not None and info["arguments"].get("x-max-priority") == declared, (
        f"RabbitMQ's reports queue has arguments {info and info['arguments']}: the worker did not declare it as a priority queue"
    )
