"""Exercise 2.1: the Celery app's configuration, read from the graded code and seen in RabbitMQ."""

import pytest

from queuelabs.isolation import queue_info


def setting(app, name):
    return app.conf[name]


@pytest.mark.exercise("2.1")
def test_json_only_and_no_task_lost_in_a_crash(celery_app):
    # Celery 5's defaults already say JSON; pinning it keeps an upgrade or a copied
    # snippet from ever turning pickle on.
    for name in ("task_serializer", "result_serializer"):
        value = setting(celery_app, name)
        assert value == "json", f"{name} is {value!r}, expected 'json'"
    accepted = set(setting(celery_app, "accept_content"))
    assert accepted == {"json"}, f"accept_content is {sorted(accepted)}: accept ['json'] only"
    for name, why in (
        ("task_acks_late", "acknowledge a message after the task ran, not before"),
        ("task_reject_on_worker_lost", "give the message back when a worker process dies"),
        ("task_track_started", "a running task should say STARTED"),
    ):
        value = setting(celery_app, name)
        assert value is True, f"{name} is {value!r}, expected True: {why}"
    prefetch = setting(celery_app, "worker_prefetch_multiplier")
    assert prefetch == 1, f"worker_prefetch_multiplier is {prefetch}, expected 1: leave waiting work in the queue"


@pytest.mark.exercise("2.1")
def test_explicit_queues_and_routes(celery_app, worker):
    create_missing = setting(celery_app, "task_create_missing_queues")
    assert create_missing is False, f"task_create_missing_queues is {create_missing!r}: set it to False"
    declared = sorted(q.name for q in (setting(celery_app, "task_queues") or ()))
    assert {"reports", "emails"} <= set(declared), (
        f"task_queues declares {declared or 'nothing'}: expected reports and emails"
    )
    router = celery_app.amqp.router
    for task, queue in (("reports.process", "reports"), ("emails.send_welcome", "emails")):
        try:
            routed = router.route({}, task)["queue"].name
        except KeyError as missing:  # celery.exceptions.QueueNotFound: a route names an undeclared queue
            raise AssertionError(
                f"{task} is routed to a queue that task_queues does not declare ({missing.args[0]}): "
                f"check the queue names in task_routes"
            ) from None
        assert routed == queue, f"{task} is routed to {routed!r}, expected {queue!r}"
    for queue in ("reports", "emails"):  # the running worker declared them in RabbitMQ
        found = queue_info(queue) is not None
        assert found, f"RabbitMQ has no queue {queue!r} in the test vhost after the worker started"
