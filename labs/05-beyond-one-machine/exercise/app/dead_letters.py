"""The dead-letter queue, read and replayed from the API, on the Broker's bounded connections (app/broker.py).

Each function takes a connection and BLOCKS: the routes run them with
`await broker.run(...)`, in a thread, with the Broker's time limits.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kombu import Connection

from app.celery_app import DEAD_LETTER_QUEUE, celery_app


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


def peek(connection: Connection, limit: int = 100) -> list[dict[str, Any]]:
    """The messages in the dead-letter queue: their headers."""
    channel = connection.channel()
    try:
        return [dict(message.headers or {}) for message in _dead_messages(channel, limit)]
    finally:
        channel.close()  # nothing acknowledged: every message stays in the queue


def replay(connection: Connection, task_id: str, limit: int = 1_000) -> dict[str, Any] | None:
    """Publish the dead letter of `task_id` to its queue again, then remove it from the
    dead-letter queue; its headers, or None when it is not there."""
    channel = connection.channel()
    try:
        for message in _dead_messages(channel, limit):
            headers = dict(message.headers or {})
            if headers.get("id") != task_id:
                continue
            death = (headers.get("x-death") or [{}])[0]
            headers.pop("x-death", None)
            headers.update(retries=0)  # a fresh budget of retries
            celery_app.backend.forget(task_id)  # its old FAILURE would hide the new run: PENDING again
            producer = connection.Producer(channel)
            producer.publish(
                message.body,
                exchange=(death.get("exchange") or ""),
                routing_key=(death.get("routing-keys") or [death.get("queue")])[0],
                headers=headers,
                content_type=message.content_type,
                content_encoding=message.content_encoding,
                delivery_mode=2,
            )
            message.ack()  # only after the copy is out (and confirmed): a crash in between duplicates, never loses
            return headers
        return None
    finally:
        channel.close()
