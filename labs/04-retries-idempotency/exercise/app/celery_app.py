"""The Celery application, configured so that an accepted task is never lost.

Both the API (to publish) and the worker (`celery -A app.celery_app worker -Q
payments`) import it. Each setting below answers one fault of the lesson:
a crash (4.3), a task that fails for good (4.6), a broker or result store
that goes away (4.7).
"""

from __future__ import annotations

from celery import Celery
from celery.signals import worker_init
from kombu import Exchange, Queue

from app.core.config import settings

WORK_QUEUE = "payments"
DEAD_LETTER_QUEUE = "payments.dead"
DEAD_LETTER_EXCHANGE = "dead-letters"

# TODO Exercise 4.6: Dead letters: a task that fails for good ends in a dead-letter
# queue. A task that exhausted its retries, or a message no worker can run, is simply
# acknowledged and gone. Declare the payments queue with a dead-letter exchange, and
# make the worker reject (not acknowledge) a failed task, so RabbitMQ re-routes it to
# payments.dead.
# `make hint EX=4.6` shows more hints; `make check LAB=04` grades your work.
WORK_QUEUE_ARGUMENTS: dict = {}
ACKS_ON_FAILURE = True


class CeleryConfig:
    """Lower-case Celery setting names, as in the Celery documentation."""

    broker_url = settings.CELERY_BROKER_URL
    result_backend = settings.CELERY_RESULT_BACKEND
    result_expires = settings.RESULT_TTL_SECONDS
    result_extended = True  # the meta keeps the retry count and the task's name

    task_serializer = "json"
    result_serializer = "json"
    accept_content = ["json"]
    task_track_started = True
    worker_send_task_events = True
    task_send_sent_event = True

    broker_connection_timeout = 2
    broker_connection_retry_on_startup = True
    redis_socket_connect_timeout = 2
    redis_socket_timeout = 2

    # Explicit queues. The worker consumes only `payments` (-Q): nobody consumes
    # the dead-letter queue by accident; it waits for a person (or a replay).
    task_queues = (
        Queue(
            WORK_QUEUE,
            Exchange(WORK_QUEUE, type="direct"),
            routing_key=WORK_QUEUE,
            queue_arguments=WORK_QUEUE_ARGUMENTS,
        ),
        Queue(DEAD_LETTER_QUEUE, Exchange(DEAD_LETTER_EXCHANGE, type="direct"), routing_key=DEAD_LETTER_QUEUE),
    )
    task_default_queue = WORK_QUEUE
    task_create_missing_queues = False
    task_routes = {"payments.*": {"queue": WORK_QUEUE}}
    task_acks_on_failure = ACKS_ON_FAILURE

    # TODO Exercise 4.3: Survive kill -9: acknowledge late, hand back the task of a dead
    # process. The worker acknowledges each message when it RECEIVES it: kill -9 the
    # process running it and RabbitMQ has already forgotten the task. Acknowledge after
    # the task ran, reject (requeue) when the process dies, and prefetch one message at
    # a time.
    # `make hint EX=4.3` shows more hints; `make check LAB=04` grades your work.
    task_acks_late = False
    task_reject_on_worker_lost = False
    worker_prefetch_multiplier = 4

    # TODO Exercise 4.7: Publisher confirms and outages: Redis or MongoDB away loses no
    # accepted task. Two places. In celery_app.py: publisher confirms (so a 202 means
    # RabbitMQ has the message) and a result backend that is retried while Redis is down
    # (instead of dropping the result and acknowledging the message). In tasks.py: a
    # MongoDB that does not answer is a reason to retry.
    # `make hint EX=4.7` shows more hints; `make check LAB=04` grades your work.
    broker_transport_options: dict = {}
    result_backend_always_retry = False


celery_app = Celery("lab04", include=["app.tasks"])
celery_app.config_from_object(CeleryConfig)


@worker_init.connect
def declare_every_queue(**_) -> None:
    """A worker declares only the queues it consumes (-Q payments); the dead-letter
    exchange and queue must exist BEFORE the first rejection, or RabbitMQ drops it."""
    with celery_app.connection_for_write() as conn:
        for queue in celery_app.conf.task_queues:
            queue(conn.default_channel).declare()
