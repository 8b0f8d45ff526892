"""Publishing a task within a time budget, so a hung RabbitMQ costs a submission about 2 s, not forever.

Why not plain `task.delay(...)`? It borrows a pooled connection and waits for
RabbitMQ with no time limit of its own (the pool, the channel, the queue
declaration, the confirm): with RabbitMQ frozen (alive, answering nothing),
every gunicorn thread that submits waits, and soon no thread is left for any
request. So each publish here:

- waits at most PUBLISH_SLOT_WAIT_SECONDS for one of PUBLISH_SLOTS per process:
  when RabbitMQ hangs, a few threads wait for it, the others refuse at once and
  keep serving every other route;
- opens its own connection, bounded by PUBLISH_TIMEOUT_SECONDS in all (the
  handshake, then every socket read and write), and does not retry: a stopped
  RabbitMQ refuses the connection, and the answer is immediate;
- waits for RabbitMQ's publisher confirm, so a 202 means "RabbitMQ has it";
- once a publish got no answer in time, refuses every submission at once for
  the next PUBLISH_TIMEOUT_SECONDS (the broker is hung: no need to wait again
  to learn it), so 45 submissions at once are all answered within about 2 s.

A handshake per submission costs a few milliseconds: the price of a bound that
holds whatever state a pooled connection was left in.

The first publish of a process would also load Celery's messaging and result
backend code (about 30 modules: 0.2 to 0.7 s here, seconds on a busy
machine) inside that time limit, so a cold API could refuse a submission a
warm one accepts. warm_up() does that once, as the process starts (wsgi.py).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from celery import Celery, Task
from django.conf import settings
from kombu.exceptions import OperationalError


class BrokerUnavailable(Exception):
    """RabbitMQ refused, did not answer in time, or every publishing slot waits for it."""


_slots = threading.BoundedSemaphore(settings.PUBLISH_SLOTS)
_hung_until = 0.0  # time.monotonic() until which RabbitMQ counts as hung, in this process


def warm_up(app: Celery) -> None:
    """Load, once and outside any time limit, what the first publish would load: no network involved."""
    app.connection_for_write().release()  # the AMQP transport; it connects only when used
    # Each of these is built on first use: build it now. The classes of the tasks imported so
    # far (the views import theirs), the message protocol with its queues and routes, the result
    # backend each publish registers its task id with, the "task sent" event machinery.
    built = (app.tasks, app.amqp.router, app.backend, app.events.Dispatcher)
    del built


def publish(task: Task, task_id: str, kwargs: dict[str, Any], priority: int | None = None) -> None:
    """Publish and wait for RabbitMQ's confirm, in at most PUBLISH_TIMEOUT_SECONDS. Raises BrokerUnavailable."""
    if not _slots.acquire(timeout=settings.PUBLISH_SLOT_WAIT_SECONDS):
        raise BrokerUnavailable(f"no answer in time: {settings.PUBLISH_SLOTS} submissions already wait for it")
    try:
        if time.monotonic() < _hung_until:  # checked once we hold a slot: a slot frees up as a publish times out
            raise BrokerUnavailable("no answer in time to the submissions just before this one")
        _publish(task, task_id, kwargs, priority)
    finally:
        _slots.release()


def _publish(task: Task, task_id: str, kwargs: dict[str, Any], priority: int | None) -> None:
    budget = settings.PUBLISH_TIMEOUT_SECONDS
    deadline = time.monotonic() + budget
    conn = task.app.connection_for_write(connect_timeout=budget)
    try:
        conn.ensure_connection(max_retries=0)  # one attempt: refused at once, a hung handshake within the budget
        left = max(deadline - time.monotonic(), 0.05)
        conn.connection.transport.sock.settimeout(left)  # every later read and write: within the budget too
        task.apply_async(
            kwargs=kwargs, task_id=task_id, priority=priority, connection=conn, retry=False, confirm_timeout=left
        )
    except (OSError, OperationalError, *conn.connection_errors, *conn.channel_errors) as exc:
        conn.collect()  # let go of it without a word to the broker: closing politely would wait for it
        if isinstance(exc, TimeoutError) or isinstance(exc.__cause__ or exc.__context__, TimeoutError):
            global _hung_until
            _hung_until = time.monotonic() + budget
            raise BrokerUnavailable("no answer in time") from exc
        raise BrokerUnavailable(f"{type(exc).__name__}: {exc}") from exc
    conn.release()
