"""Talking to RabbitMQ from the API, with a time limit on every step.

A pooled connection to a frozen broker blocks for ever (a queue declare, a
publisher confirm: neither has a time limit of its own), and each blocked
request holds a thread until the pool is empty. So each publish here opens
its own short-lived connection whose socket gives up after
PUBLISH_TIMEOUT_SECONDS: a frozen or dead broker becomes a 503, not a hang.
A handshake per request buys that certainty: a few milliseconds alone, up to
a quarter of a second at p95 with 20 clients submitting at once. Lab 02's
broker.py keeps one bounded connection and batches instead: faster, longer.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery import Task
from kombu import Connection

from app.celery_app import DEAD_LETTER_QUEUE, celery_app
from app.core.config import settings


class BrokerUnavailable(Exception):
    """RabbitMQ did not answer (or confirm) in time."""


@contextmanager
def bounded_connection(timeout: float) -> Iterator[Connection]:
    conn = celery_app.connection_for_write(connect_timeout=timeout)
    try:
        conn.ensure_connection(max_retries=1, timeout=timeout)
        conn.connection.transport.sock.settimeout(timeout)  # every later read and write is bounded too
        yield conn
    except (OSError, TimeoutError) as exc:
        raise BrokerUnavailable(f"{type(exc).__name__}: {exc or 'no answer'}") from exc
    except conn.connection_errors as exc:
        raise BrokerUnavailable(f"{type(exc).__name__}: {exc}") from exc
    finally:
        try:
            conn.release()
        except Exception:  # closing a connection to a dead broker: nothing left to do
            pass


def publish(task: Task, *, kwargs: dict[str, Any], task_id: str, priority: int | None = None) -> None:
    """Publish and wait for RabbitMQ's confirm (publisher confirms are on in celery_app). BLOCKING."""
    timeout = settings.PUBLISH_TIMEOUT_SECONDS
    with bounded_connection(timeout) as conn:
        task.apply_async(
            kwargs=kwargs, task_id=task_id, priority=priority, connection=conn, retry=False, confirm_timeout=timeout
        )


def _dead_messages(channel, limit: int) -> Iterator[Any]:
    """Take up to `limit` messages from the dead-letter queue WITHOUT acknowledging them:
    they go back to the queue when the channel closes, unless acknowledged."""
    for queue in celery_app.conf.task_queues:  # no dead-letter queue yet means: none dead yet
        if queue.name == DEAD_LETTER_QUEUE:
            queue(channel).declare()
    for _ in range(limit):
        raw = channel.basic_get(DEAD_LETTER_QUEUE, no_ack=False)
        if raw is None:
            return
        yield channel.message_to_python(raw)


def peek_dead_letters(limit: int = 100) -> list[dict[str, Any]]:
    """The messages in the dead-letter queue: their headers. BLOCKING."""
    with bounded_connection(settings.PUBLISH_TIMEOUT_SECONDS) as conn:
        channel = conn.channel()
        try:
            return [dict(message.headers or {}) for message in _dead_messages(channel, limit)]
        finally:
            channel.close()  # nothing acknowledged: every message stays in the queue


def replay_dead_letter(task_id: str, limit: int = 1_000) -> dict[str, Any] | None:
    """Publish the dead letter of `task_id` to its queue again, then remove it from the
    dead-letter queue; its headers, or None when it is not there. BLOCKING."""
    with bounded_connection(settings.PUBLISH_TIMEOUT_SECONDS) as conn:
        channel = conn.channel()
        try:
            for message in _dead_messages(channel, limit):
                headers = dict(message.headers or {})
                if headers.get("id") != task_id:
                    continue
                death = (headers.get("x-death") or [{}])[0]
                headers.pop("x-death", None)
                headers.update(retries=0)  # a fresh budget of retries
                celery_app.backend.forget(task_id)  # its old FAILURE would hide the new run: PENDING again
                producer = conn.Producer(channel)
                producer.publish(
                    message.body,
                    exchange=(death.get("exchange") or ""),
                    routing_key=(death.get("routing-keys") or [death.get("queue")])[0],
                    headers=headers,
                    content_type=message.content_type,
                    content_encoding=message.content_encoding,
                    delivery_mode=2,
                )
                message.ack()  # only after the copy is out: a crash in between duplicates, never loses
                return headers
            return None
        finally:
            channel.close()
