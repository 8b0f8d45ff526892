"""Publishing a task with a time limit on EVERY broker call, so a hung RabbitMQ costs 2 s, not forever.

Why not plain `task.apply_async(...)`? It borrows a connection and a producer
from Celery's pools and declares the queue on first use. Acquiring from a
pool, opening a channel and declaring a queue all wait for RabbitMQ with NO
time limit: when RabbitMQ is frozen (alive, but answering nothing), every
gunicorn thread that submits waits forever, and soon no thread is left for
any request. A connect_timeout alone does not help: the TCP connection is
already open, it is the answers that never come.

So each gunicorn thread keeps ONE connection of its own (no pool to wait for),
made with a time limit on connecting AND on every socket read and write, and
with publisher confirms: `basic_publish` waits (at most the time limit) until
RabbitMQ says it has the message, so a 202 means "queued", and a frozen
broker gives a socket time-out, turned into a one-line 503. The queue is
declared once per connection. A connection that failed is thrown away; the
next submission makes a new one.
"""

from __future__ import annotations

import threading
from typing import Any

from celery import Task
from django.conf import settings
from kombu import Connection
from kombu.exceptions import OperationalError

from jobs import services

_local = threading.local()


def _connection(app) -> Connection:
    conn: Connection | None = getattr(_local, "connection", None)
    if conn is None:
        limit = settings.PUBLISH_TIMEOUT_SECONDS
        conn = app.connection_for_write(
            connect_timeout=limit,
            transport_options={"read_timeout": limit, "write_timeout": limit, "confirm_publish": True},
        )
        _local.connection = conn
    return conn


def _drop_connection() -> None:
    conn = getattr(_local, "connection", None)
    _local.connection = None
    if conn is not None:
        conn.collect()  # release it without talking to the (possibly hung) broker


def _publish_once(task: Task, task_id: str, kwargs: dict[str, Any], priority: int | None) -> None:
    conn = _connection(task.app)
    with conn._reraise_as_library_errors():
        conn.ensure_connection(max_retries=1)  # bounded by connect_timeout
    producer = task.app.amqp.Producer(conn)
    task.apply_async(kwargs=kwargs, task_id=task_id, priority=priority, producer=producer, retry=False)


def publish(task: Task, task_id: str, kwargs: dict[str, Any], priority: int | None = None) -> None:
    """Record the id (for the status view), then publish; bounded in time. Raises OperationalError."""
    services.remember_submission(task_id, task.name)
    reused = getattr(_local, "connection", None) is not None
    try:
        try:
            _publish_once(task, task_id, kwargs, priority)
        except OperationalError as exc:
            _drop_connection()
            # A connection kept since an earlier request may have died quietly (a
            # broker restart): try once more on a new one, unless the broker is hung.
            if not reused or isinstance(exc.__cause__, TimeoutError):
                raise
            _publish_once(task, task_id, kwargs, priority)
    except Exception:
        _drop_connection()
        services.forget_submission(task_id)  # nothing was queued after all: 404, not PENDING forever
        raise
