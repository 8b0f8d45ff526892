"""The Celery application, configured so that an accepted task is never lost.

Both the API (to publish) and the worker (`celery -A app.celery_app worker -Q
payments`) import it. Lab 04's settings are all here (a crash: 4.3, a task that
fails for good: 4.6, a broker or result store that goes away: 4.7); lab 05
replicates the queues (5.1), limits the deliveries of a poison message (5.3)
and keeps the results wherever the Sentinels say the Redis primary is (5.5).
"""

from __future__ import annotations

from celery import Celery
from celery.signals import worker_init
from kombu import Exchange, Queue

from app.core.config import settings

WORK_QUEUE = "payments"
DEAD_LETTER_QUEUE = "payments.dead"
DEAD_LETTER_EXCHANGE = "dead-letters"

# BEGIN EXERCISE 5.1
# A quorum queue keeps every message on a majority of the nodes (Raft): the
# node holding its leader can die, another takes over with the messages. A
# classic queue lives on one node and is gone with it. The type is fixed when the
# queue is first declared (PRECONDITION_FAILED on a change), so it is declared
# here, on the Queue itself: task_default_queue_type only reaches queues Celery
# creates on its own, never these.
REPLICATED = {"x-queue-type": "quorum"}
# Celery schedules a retry's countdown on quorum queues with RabbitMQ itself
# (native delayed delivery), which routes through topic exchanges only: with a
# direct exchange the countdown is held in the worker, which quorum queues forbid.
EXCHANGE_TYPE = "topic"
# STARTER
# REPLICATED: dict = {}  # classic queues: each lives on the node that declared it
# EXCHANGE_TYPE = "direct"
# END EXERCISE 5.1

# BEGIN EXERCISE 5.3
# Late acks and reject_on_worker_lost (lab 04, 4.3) hand the task of a killed
# process back to RabbitMQ: right for a task that was unlucky once, an endless
# loop for a task that kills its worker every time (a poison message). A quorum
# queue counts the deliveries of each message it got back (x-delivery-count) and,
# past this limit, dead-letters it with the reason delivery_limit instead of
# delivering it again. RabbitMQ 3.10 sets no limit by default (4.0 sets 20).
POISON_LIMIT = {"x-delivery-limit": 3}
# STARTER
# POISON_LIMIT: dict = {}  # no limit: a task that crashes its worker comes back for ever
# END EXERCISE 5.3

# A message the worker REJECTS (requeue=False) from the work queue is re-routed
# by RabbitMQ to this exchange, which sends it to the dead-letter queue.
# RabbitMQ fixes a queue's arguments when the queue is first declared: adding
# them to an existing queue fails with PRECONDITION_FAILED (delete it first).
WORK_QUEUE_ARGUMENTS = {
    **REPLICATED,
    **POISON_LIMIT,
    "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
    "x-dead-letter-routing-key": DEAD_LETTER_QUEUE,
}
# A plain failure is acknowledged (and so forgotten) unless told otherwise:
# with acks_late, False rejects the message instead, and the DLX catches it.
ACKS_ON_FAILURE = False

# Given (lab 05, not an exercise): the result backend retries these like a lost connection. A Redis
# primary cut off from its replicas refuses writes (NOREPLICAS, with min-replicas-to-write, as the
# partition row's hosts run) until the Sentinels demote it; failing the result write would fail a
# task that did its work. Any other refusal is retried too, and fails after result_backend_max_retries.
RESULT_WRITE_RETRIES = {"additional_connection_errors": ("redis.exceptions.ResponseError",)}


class CeleryConfig:
    """Lower-case Celery setting names, as in the Celery documentation."""

    broker_url = settings.CELERY_BROKER_URL  # every node, ';'-separated: the worker fails over in turn
    # BEGIN EXERCISE 5.5
    # Not one server's address: after a failover it names a dead server, then a replica that
    # refuses writes (ReadOnlyError). The Sentinels know which server is the primary now; Celery's
    # sentinel:// backend asks them for the primary they call master_name, and asks again after an error.
    result_backend = settings.REDIS_URL  # the Sentinels: sentinel://h1:p1/db;sentinel://h2:p2/db;...
    result_backend_transport_options = {**RESULT_WRITE_RETRIES, "master_name": settings.REDIS_MASTER_NAME}
    # STARTER
    # result_backend = settings.REDIS_SERVER_URL  # lab 04's: one server, the primary when the lab started
    # result_backend_transport_options = RESULT_WRITE_RETRIES
    # END EXERCISE 5.5
    result_expires = settings.RESULT_TTL_SECONDS
    result_extended = True  # the meta keeps the retry count and the task's name

    task_serializer = "json"
    result_serializer = "json"
    accept_content = ["json"]
    task_track_started = True
    worker_send_task_events = True
    task_send_sent_event = True

    broker_connection_timeout = 2
    # A node that dies closes its connections; a node cut off by the network goes silent, and the
    # worker's connection to it looks open until heartbeats say otherwise: 120 s by default (up to
    # twice that before it moves on), 10 s here, so the worker reconnects to another node in seconds.
    broker_heartbeat = 10
    broker_connection_retry_on_startup = True
    redis_socket_connect_timeout = 2
    redis_socket_timeout = 2

    # Explicit queues. The worker consumes only `payments` (-Q): nobody consumes
    # the dead-letter queue by accident; it waits for a person (or a replay).
    task_queues = (
        Queue(
            WORK_QUEUE,
            Exchange(WORK_QUEUE, type=EXCHANGE_TYPE),
            routing_key=WORK_QUEUE,
            queue_arguments=WORK_QUEUE_ARGUMENTS,
        ),
        Queue(
            DEAD_LETTER_QUEUE,
            Exchange(DEAD_LETTER_EXCHANGE, type="direct"),
            routing_key=DEAD_LETTER_QUEUE,
            queue_arguments=REPLICATED,
        ),
    )
    task_default_queue = WORK_QUEUE
    task_create_missing_queues = False
    task_routes = {"payments.*": {"queue": WORK_QUEUE}}
    task_acks_on_failure = ACKS_ON_FAILURE

    # Acknowledge a message only once its task has finished, and hand it back
    # to RabbitMQ when the process running it dies: a kill -9 loses nothing,
    # the task runs again (delivery_info["redelivered"] is then True).
    task_acks_late = True
    task_reject_on_worker_lost = True
    # One unstarted message per process: a crash hands back one, not a pile.
    worker_prefetch_multiplier = 1

    # Publisher confirms: apply_async returns only once RabbitMQ has taken the
    # message (written it, for a durable queue), so the API's 202 is a promise.
    broker_transport_options = {"confirm_publish": True}
    # When Redis (the result backend) is down, keep retrying the write instead of
    # dropping the result and acknowledging the message as if all were well.
    result_backend_always_retry = True
    result_backend_max_retries = 60
    result_backend_base_sleep_between_retries_ms = 200
    result_backend_max_sleep_between_retries_ms = 2_000


celery_app = Celery("lab05", include=["app.tasks"])
celery_app.config_from_object(CeleryConfig)


@worker_init.connect
def declare_every_queue(**_) -> None:
    """A worker declares only the queues it consumes (-Q payments); the dead-letter
    exchange and queue must exist BEFORE the first rejection, or RabbitMQ drops it."""
    with celery_app.connection_for_write() as conn:
        for queue in celery_app.conf.task_queues:
            queue(conn.default_channel).declare()
