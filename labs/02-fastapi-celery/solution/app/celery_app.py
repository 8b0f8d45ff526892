"""The Celery application, imported by the API (to publish) and by `celery -A app.celery_app worker`."""

from __future__ import annotations

from celery import Celery
from kombu import Exchange, Queue

from app.core.config import settings

# The `priority` of POST /api/async/process, as an AMQP message priority
# (RabbitMQ: a bigger number is served first).
PRIORITY_LEVELS = {"low": 1, "normal": 5, "high": 9}

# BEGIN EXERCISE 2.7
# RabbitMQ only looks at message priorities on a queue that was DECLARED with
# x-max-priority; on a plain queue a priority is ignored: first in, first out.
MAX_PRIORITY = 10
REPORTS_QUEUE_ARGUMENTS = {"x-max-priority": MAX_PRIORITY}
# STARTER
# MAX_PRIORITY = 10
# REPORTS_QUEUE_ARGUMENTS: dict = {}
# END EXERCISE 2.7


class CeleryConfig:
    """Lower-case Celery setting names, as in the Celery documentation."""

    # Where messages go, and where results and states are kept.
    broker_url = settings.CELERY_BROKER_URL
    result_backend = settings.CELERY_RESULT_BACKEND
    result_expires = settings.RESULT_TTL_SECONDS

    # Fail fast when a server is down (the API publishes through app/broker.py).
    broker_connection_timeout = 2
    broker_connection_retry_on_startup = True
    task_publish_retry_policy = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
    redis_socket_connect_timeout = 2
    redis_socket_timeout = 5

    # Events, so Flower shows every task as it moves; the workers send them. A "sent"
    # event from the API would be a second message per submission.
    worker_send_task_events = True
    task_send_sent_event = False

    # BEGIN EXERCISE 2.1
    # JSON only: never unpickle what comes off a network.
    task_serializer = "json"
    result_serializer = "json"
    accept_content = ["json"]

    # Acknowledge a message only AFTER the task ran, and give it back to the
    # queue if the worker process dies, so no task is lost in a crash...
    task_acks_late = True
    task_reject_on_worker_lost = True
    # ...and let each worker process hold just one message it has not started.
    worker_prefetch_multiplier = 1
    # Report STARTED when a worker begins a task (not just PENDING, then done).
    task_track_started = True

    # Explicit queues: a typo in a route is an error, not a silent new queue.
    task_queues = (
        Queue("default", Exchange("default", type="direct"), routing_key="default"),
        Queue(
            "reports",
            Exchange("reports", type="direct"),
            routing_key="reports",
            queue_arguments=REPORTS_QUEUE_ARGUMENTS,
        ),
        Queue("emails", Exchange("emails", type="direct"), routing_key="emails"),
    )
    task_default_queue = "default"
    task_create_missing_queues = False
    task_routes = {
        "reports.*": {"queue": "reports"},
        "emails.*": {"queue": "emails"},
    }
    # STARTER
    # pass
    # END EXERCISE 2.1


celery_app = Celery("lab02", include=["app.tasks"])
celery_app.config_from_object(CeleryConfig)


def queue_names() -> list[str]:
    """The queues the workers consume (Celery's default queue, `celery`, when none are declared)."""
    return [queue.name for queue in getattr(CeleryConfig, "task_queues", None) or ()] or ["celery"]
