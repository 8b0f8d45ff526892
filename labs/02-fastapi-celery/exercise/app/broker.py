"""The API's link to RabbitMQ: its own connections, every call bounded in time.

Why not simply `task.apply_async(...)` in a thread? Because of what happens
when RabbitMQ hangs (a frozen server, a full disk, a network that drops
packets) after the API has already been talking to it:

- `broker_connection_timeout` only limits *opening* a connection. A warm
  connection is already open, so a publish on it never meets that limit:
  it waits for RabbitMQ's reply (a queue declaration, a confirm) forever.
- apply_async takes a connection and a producer from Celery's pools, and
  declares the queue on a fresh pooled connection. Neither step has a time
  limit: with RabbitMQ frozen, every thread of the API ended up stuck there,
  and then even `GET /api/items` waited for a free thread.

So the API owns one connection for publishing, with a time limit on every
socket read and write (`read_timeout`, `write_timeout`), on opening
(`connect_timeout`), and on RabbitMQ's confirm of each message
(`confirm_publish`, `confirm_timeout`): a 202 means RabbitMQ has the task.
One publish at a time uses it, in a thread, behind an asyncio lock that is
itself acquired with a time limit, so waiting for the broker never takes a
thread and never lasts longer than BROKER_TIMEOUT_SECONDS. After a failure
the link fails fast for a moment instead of queueing every request behind
a broker that does not answer, then reconnects.

The messages are published with `send_task` by an app without a result
backend: the API never waits for a result, so it need not subscribe to one
in Redis on every submission (which apply_async does with the Redis backend).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from typing import Any, TypeVar

import amqp.exceptions
from celery import Celery
from kombu import Connection

T = TypeVar("T")


class BrokerUnavailable(Exception):
    """RabbitMQ did not answer in time, or refused: the API answers 503 with this message."""


class BrokerRefused(BrokerUnavailable):
    """RabbitMQ answered, with an error (a queue declared with other arguments...)."""


def _reason(exc: BaseException) -> str:
    if _timed_out(exc):
        return "no answer in time"
    text = (str(exc).splitlines() or [""])[0] or type(exc).__name__
    return text[:160]


def _timed_out(exc: BaseException | None) -> bool:
    while exc is not None:
        if isinstance(exc, socket.timeout | TimeoutError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


class BoundedConnection:
    """One kombu connection, used by one thread at a time, every step with a time limit."""

    def __init__(self, url: str, timeout: float, *, confirm_publish: bool = False):
        self.url, self.timeout, self.confirm_publish = url, timeout, confirm_publish
        self._lock = asyncio.Lock()
        self._connection: Connection | None = None
        self._fail_fast_until = 0.0
        self._last_failure = ""

    def _connect(self) -> Connection:
        connection = Connection(
            self.url,
            connect_timeout=self.timeout,
            heartbeat=0,  # nobody reads between publishes: every call is a round trip instead
            transport_options={
                "read_timeout": self.timeout,
                "write_timeout": self.timeout,
                "confirm_publish": self.confirm_publish,
            },
        )
        connection.connect()
        return connection

    def _drop(self) -> None:
        """Forget the connection without talking to the broker (it may be frozen)."""
        if self._connection is not None:
            try:
                self._connection.collect()
            except Exception:  # noqa: BLE001 - closing a broken socket: nothing to report
                pass
        self._connection = None

    def _call(self, work: Callable[[Connection], T]) -> T:
        """BLOCKING: run `work` on the connection; a warm connection the broker dropped is retried once."""
        warm = self._connection is not None
        if not warm:
            self._connection = self._connect()
        try:
            return work(self._connection)
        except Exception as exc:
            self._drop()
            if not warm or _timed_out(exc) or "PRECONDITION_FAILED" in str(exc):
                raise
            # The connection was closed under us (RabbitMQ restarted): once more, on a new one.
            self._connection = self._connect()
            return work(self._connection)

    async def run(self, work: Callable[[Connection], T]) -> T:
        """Run `work(connection)` in a thread; BrokerUnavailable after about `timeout` seconds at most."""
        if time.monotonic() < self._fail_fast_until:
            raise BrokerUnavailable(self._last_failure)
        try:
            await asyncio.wait_for(self._lock.acquire(), self.timeout)
        except TimeoutError:
            raise BrokerUnavailable(f"still busy with another call after {self.timeout:g} s") from None
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(None, self._call, work)
        # The lock is released when the thread is done, even if this request is
        # cancelled meanwhile: two threads must never share the connection.
        future.add_done_callback(lambda _: self._lock.release())
        try:
            return await asyncio.shield(future)
        except BrokerUnavailable:
            raise
        except Exception as exc:
            if "PRECONDITION_FAILED" in str(exc):
                raise BrokerRefused(_reason(exc)) from exc
            self._last_failure = _reason(exc)
            self._fail_fast_until = time.monotonic() + self.timeout / 2
            raise BrokerUnavailable(self._last_failure) from exc

    def close(self) -> None:
        self._drop()


class TaskPublisher:
    """Publishes tasks by name: `await publisher.publish("reports.process", kwargs=..., task_id=...)`."""

    def __init__(self, celery_config: object, url: str, timeout: float):
        # The same queues and routes as the workers' app, and no result backend.
        self.app = Celery("lab02-api", config_source=celery_config, set_as_current=False)
        self.app.conf.result_backend = None
        self.link = BoundedConnection(url, timeout, confirm_publish=True)
        self.timeout = timeout

    def _send(self, connection: Connection, name: str, kwargs: dict[str, Any], task_id: str, priority: int | None):
        self.app.send_task(
            name,
            kwargs=kwargs,
            task_id=task_id,
            priority=priority,
            producer=connection.Producer(),  # queues are declared once per connection (kombu remembers)
            retry=False,  # BoundedConnection retries a dropped connection once; no more
            timeout=self.timeout,
            confirm_timeout=self.timeout,
        )

    async def publish(self, name: str, *, kwargs: dict[str, Any], task_id: str, priority: int | None = None) -> None:
        await self.link.run(lambda connection: self._send(connection, name, kwargs, task_id, priority))

    def close(self) -> None:
        self.link.close()


class BrokerProbe:
    """For GET /health: does RabbitMQ answer, and does a worker consume each queue? One warm connection."""

    def __init__(self, url: str, queues: list[str], timeout: float):
        self.link = BoundedConnection(url, timeout)
        self.queues = queues

    @staticmethod
    def _consumers(connection: Connection, queues: list[str]) -> dict[str, int]:
        counts = dict.fromkeys(queues, 0)
        channel = connection.channel()
        try:
            for name in queues:  # a passive declare: a round trip that creates nothing
                counts[name] = channel.queue_declare(queue=name, passive=True).consumer_count
        except amqp.exceptions.NotFound:  # a queue nobody declared yet: no worker ever started
            return counts  # (RabbitMQ closed the channel itself)
        channel.close()
        return counts

    async def consumers(self) -> dict[str, int]:
        """{queue: number of consumers}; BrokerUnavailable when RabbitMQ does not answer in time."""
        return await self.link.run(lambda connection: self._consumers(connection, self.queues))

    def close(self) -> None:
        self.link.close()
