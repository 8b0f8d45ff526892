"""TUNED VARIANT (measured by `make bench LAB=02`): the reference's Broker, batching its publishes.

It keeps every promise of the reference (solution/app/broker.py: a 202 only
once RabbitMQ confirmed, every step bounded in time) and adds what measured
faster under load. It leans on py-amqp's private transport methods, which is
why the lesson's reference does not.

The rest of this docstring is the design, as first written for the lab:

Why not simply `task.apply_async(...)` in a thread? Because of what happens
when RabbitMQ hangs (a frozen server, a full disk, a network that drops
packets) after the API has already been talking to it:

- `broker_connection_timeout` only limits *opening* a connection. A warm
  connection is already open, so a publish on it never meets that limit:
  it waits for RabbitMQ's reply (a queue declaration, a confirm) forever,
  or "succeeds" into the socket's buffer while RabbitMQ hears nothing.
- apply_async takes a connection and a producer from Celery's pools, and
  declares the queue on a fresh pooled connection. Neither step has a time
  limit: with RabbitMQ frozen, every thread of the API ended up stuck there,
  and then even `GET /api/items` waited for a free thread.

So the API owns one connection for publishing, with a time limit on every
socket read and write (`read_timeout`, `write_timeout`), on opening
(`connect_timeout`), and on RabbitMQ's confirms (publisher confirms: the
broker acknowledges each message it has safely taken): a 202 means
RabbitMQ has the task. One thread owns that connection and publishes for
every request; a request waits for its turn in a queue, for at most half
the time limit, and awaits the outcome without holding a thread. Under
load the thread takes every waiting message at once, publishes them all
in one write to the socket, then waits once for their confirms. After a
failure the link fails fast for a moment, instead of queueing every request
behind a broker that does not answer, then reconnects.

The messages are published with `send_task` by an app without a result
backend: the API never waits for a result, so it need not subscribe to one
in Redis on every submission (which apply_async does with the Redis backend).
"""

from __future__ import annotations

import asyncio
import queue
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import amqp.exceptions
from celery import Celery
from kombu import Connection

MAX_BATCH = 200  # messages published before waiting for their confirms
KWARGS_REPR_MAX = 1024  # characters of a task's arguments shown in logs and Flower


class BrokerUnavailable(Exception):
    """RabbitMQ did not answer in time, or refused: the API answers 503 with this message."""


class BrokerRefused(BrokerUnavailable):
    """RabbitMQ answered, with an error (a queue declared with other arguments...)."""


class PublishUnconfirmed(BrokerUnavailable):
    """Sent, but RabbitMQ did not confirm it in time: it may be queued, or not."""

    def __init__(self, reason: str, task_id: str = ""):
        super().__init__(reason)
        self.task_id = task_id


def _timed_out(exc: BaseException | None) -> bool:
    while exc is not None:
        if isinstance(exc, socket.timeout | TimeoutError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _reason(exc: BaseException) -> str:
    if _timed_out(exc):
        return "no answer in time"
    text = (str(exc).splitlines() or [""])[0] or type(exc).__name__
    return text[:160]


Work = Callable[[Connection], Any]


class OneWrite:
    """`with OneWrite(connection):` every frame written meanwhile reaches the socket in one write.

    py-amqp sends each message with its own system call, and RabbitMQ reads
    each one on its own. A batch of 16 messages in one write costs one call,
    and RabbitMQ half the CPU per message (measured by `make bench LAB=02`).
    Before anything is read (a queue declaration waits for RabbitMQ's
    answer), what was held back is sent first.
    """

    def __init__(self, connection: Connection):
        self.transport = connection.connection.transport  # py-amqp's socket wrapper
        self.held: list[bytes] = []

    def _hold(self, data) -> None:
        self.held.append(bytes(data))  # a copy: py-amqp reuses its buffer for the next frame

    def _send_held(self) -> None:
        data, self.held = b"".join(self.held), []
        if data:
            self.send(data)

    def _read(self, *args, **kwargs):
        self._send_held()
        return self.read(*args, **kwargs)

    def __enter__(self) -> OneWrite:
        self.send, self.read = self.transport._write, self.transport._read  # the socket's sendall, py-amqp's read
        self.transport._write, self.transport._read = self._hold, self._read
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.transport._write = self.send
        del self.transport._read  # py-amqp's own method again
        if exc_type is None:
            self._send_held()  # a write that times out raises here, like any other write


class BoundedConnection:
    """One kombu connection, owned by one thread, every step with a time limit.

    `await link.run(work)` hands `work(connection)` to the thread and awaits
    its outcome. Calls that queue up meanwhile are run as one batch, then
    `_finish_batch` runs once (the publisher waits for confirms there).
    """

    def __init__(self, url: str, timeout: float):
        self.url, self.timeout = url, timeout
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._connection: Connection | None = None
        self._fail_fast_until = 0.0
        self._last_failure = ""

    # --- in the owning thread ---------------------------------------------------

    def _connect(self) -> Connection:
        connection = Connection(
            self.url,
            connect_timeout=self.timeout,
            heartbeat=0,  # nobody reads between calls: every call is a round trip instead
            transport_options={"read_timeout": self.timeout, "write_timeout": self.timeout},
        )
        # One attempt: kombu's connect() tries twice, each up to connect_timeout.
        connection.ensure_connection(max_retries=0)
        self._prepare(connection)
        return connection

    def _prepare(self, connection: Connection) -> None:
        """Set a new connection up (the publisher turns confirms on)."""

    def _finish_batch(self, connection: Connection) -> None:
        """After a batch of calls (the publisher waits for their confirms)."""

    def _drop(self) -> None:
        """Forget the connection without talking to the broker (it may be frozen)."""
        if self._connection is not None:
            try:
                self._connection.collect()
            except Exception:  # noqa: BLE001 - closing a broken socket: nothing to report
                pass
        self._connection = None

    def _run_batch(self, works: list[Work]) -> list[Any]:
        """Run every call, then finish the batch; a warm connection the broker dropped is retried once."""
        warm = self._connection is not None
        for attempt in ("first", "again"):
            if self._connection is None:
                self._connection = self._connect()
            try:
                with OneWrite(self._connection):
                    values = [work(self._connection) for work in works]
                self._finish_batch(self._connection)
                return values
            except Exception as exc:
                self._drop()
                if attempt == "again" or not warm or _timed_out(exc) or "PRECONDITION_FAILED" in str(exc):
                    raise
                # The connection was closed under us (RabbitMQ restarted): once more, on a new one.
        raise AssertionError("unreachable")

    def _outcomes(self, works: list[Work]) -> tuple[bool, list[Any] | BrokerUnavailable]:
        if time.monotonic() < self._fail_fast_until:  # it failed a moment ago: do not queue everyone behind it
            return False, BrokerUnavailable(self._last_failure)
        try:
            return True, self._run_batch(works)
        except Exception as exc:
            if "PRECONDITION_FAILED" in str(exc):
                return False, BrokerRefused(str(exc).splitlines()[0][:300])  # all of it: which queue, which argument
            self._last_failure = _reason(exc)
            self._fail_fast_until = time.monotonic() + self.timeout / 2
            if _timed_out(exc):  # the batch may have reached RabbitMQ: nobody can tell
                return False, PublishUnconfirmed(self._last_failure)
            return False, BrokerUnavailable(self._last_failure)

    def _serve(self) -> None:
        """The thread that owns the connection: takes every waiting call, runs them, answers each."""
        while (job := self._jobs.get()) is not None:
            batch = [job]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._jobs.get_nowait())
                except queue.Empty:
                    break
            if None in batch:
                batch.remove(None)
                self._jobs.put(None)  # stop after this batch
            late = time.monotonic() - self.timeout / 2
            loop = batch[0][2]  # the API's event loop (one per process)
            answers = []
            for _work, queued_at, _loop, future in batch:  # waited too long: answer now, do not run late
                if queued_at < late:
                    error = BrokerUnavailable(f"busy: waited over {self.timeout / 2:g} s for a turn")
                    answers.append((future, False, error))
            batch = [job for job in batch if job[1] >= late]
            if batch:
                ok, values = self._outcomes([work for work, *_ in batch])
                answers += [(job[3], ok, values[index] if ok else values) for index, job in enumerate(batch)]
            if answers:  # one wake-up of the event loop for the whole batch
                loop.call_soon_threadsafe(_settle_all, answers)
        self._drop()

    # --- on the event loop --------------------------------------------------------

    async def run(self, work: Work) -> Any:
        """`work(connection)`, run by the thread; BrokerUnavailable within a few time limits at most."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="broker link", daemon=True)
            self._thread.start()
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._jobs.put((work, time.monotonic(), loop, future))
        return await future

    def close(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join(self.timeout * 2)
            self._thread = None


def _settle_all(answers: list[tuple[asyncio.Future, bool, Any]]) -> None:
    for future, ok, value in answers:
        if future.done():  # the request was cancelled meanwhile (the client went away)
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


class ConfirmedConnection(BoundedConnection):
    """A BoundedConnection with publisher confirms: a batch ends when RabbitMQ confirmed all of it."""

    def _prepare(self, connection: Connection) -> None:
        channel = connection.default_channel
        # py-amqp reads the socket before every publish, in case RabbitMQ said "connection blocked"
        # (out of memory or disk). This link has no use for that notice: a blocked RabbitMQ confirms
        # nothing, and the time limit answers 503. Without it, a batch is written in one go (OneWrite).
        connection.connection.client_properties["capabilities"]["connection.blocked"] = False
        channel.confirm_select()  # from now on RabbitMQ acks (or nacks) every message, numbered 1, 2, 3...
        self.producer = connection.Producer()
        self._published = 0
        self._unconfirmed: set[int] = set()
        self._refused = False
        self.declared_for: set[str] = set()  # task names whose queue RabbitMQ has declared on this connection
        channel.events["basic_ack"].add(self._on_ack)
        channel.events["basic_nack"].add(self._on_nack)

    def _on_ack(self, tag: int, multiple: bool) -> None:
        if multiple:  # every message up to `tag`
            self._unconfirmed = {t for t in self._unconfirmed if t > tag}
        else:
            self._unconfirmed.discard(tag)

    def _on_nack(self, tag: int, multiple: bool) -> None:
        self._on_ack(tag, multiple)
        self._refused = True

    def published(self) -> None:
        """Called after each publish on this connection: one more message to be confirmed."""
        self._published += 1
        self._unconfirmed.add(self._published)

    def _finish_batch(self, connection: Connection) -> None:
        deadline = time.monotonic() + self.timeout
        while self._unconfirmed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("RabbitMQ did not confirm the messages in time")
            connection.drain_events(timeout=remaining)  # reads the acks; socket.timeout if none comes
        if self._refused:
            self._refused = False
            raise amqp.exceptions.InternalError("RabbitMQ refused (nack) a message")


class TaskPublisher:
    """Publishes tasks by name: `await publisher.publish("reports.process", kwargs=..., task_id=...)`."""

    def __init__(self, celery_config: object, url: str, timeout: float):
        # The same queues and routes as the workers' app, and no result backend. Not through
        # conf.result_backend: Celery reads a CELERY_RESULT_BACKEND environment variable first.
        self.app = Celery("lab02-api", config_source=celery_config, set_as_current=False)
        self.app.backend_cls = "disabled"
        self.link = ConfirmedConnection(url, timeout)
        self.timeout = timeout

    def _send(self, connection: Connection, name: str, kwargs: dict[str, Any], task_id: str, priority: int | None):
        declared = name in self.link.declared_for  # a task's queue never changes: declared once per connection
        self.app.send_task(
            name,
            kwargs=kwargs,
            task_id=task_id,
            priority=priority,
            producer=self.link.producer,
            declare=[] if declared else None,  # None: Celery declares the task's queue (a round trip)
            retry=False,  # the link retries a dropped connection once; no more
            timeout=self.timeout,
            argsrepr="()",  # what logs and Flower show; Celery's own saferepr costs more than the publish
            kwargsrepr=repr(kwargs)[:KWARGS_REPR_MAX],
        )
        self.link.declared_for.add(name)
        self.link.published()

    async def publish(self, name: str, *, kwargs: dict[str, Any], task_id: str, priority: int | None = None) -> None:
        """Returns once RabbitMQ confirmed the message; BrokerUnavailable (a 503) otherwise."""
        try:
            await self.link.run(lambda connection: self._send(connection, name, kwargs, task_id, priority))
        except PublishUnconfirmed as exc:
            raise PublishUnconfirmed(str(exc), task_id) from exc

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


class Broker:
    """The reference's interface (app/main.py, app/api/deps.py, the routes), on the batching links above."""

    def __init__(self, celery_config: object, url: str, timeout: float, max_concurrent: int):
        self.publisher = TaskPublisher(celery_config, url, timeout)  # one thread: max_concurrent is not needed
        self.probe = BoundedConnection(url, timeout)

    async def publish(self, name: str, *, kwargs: dict[str, Any], task_id: str, priority: int | None = None) -> None:
        await self.publisher.publish(name, kwargs=kwargs, task_id=task_id, priority=priority)

    async def consumers(self, queues: list[str], timeout: float) -> dict[str, int]:
        return await self.probe.run(lambda connection: BrokerProbe._consumers(connection, queues))

    def close(self) -> None:
        self.publisher.close()
        self.probe.close()
