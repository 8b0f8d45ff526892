"""The business logic: plain functions, no Celery and no DRF in sight.

The views validate, persist intent, publish and answer; the tasks (tasks.py)
are thin wrappers that call these functions in a worker. So the logic can be
called, and tested, without a broker or a web server. The Django ORM is the
database layer here, as anywhere in a Django project.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pymongo.errors
from django.db import DatabaseError, IntegrityError
from django.db.models import F

from jobs.models import Digest, Submission, TaskResult

logger = logging.getLogger(__name__)


def now() -> datetime:
    return datetime.now(UTC)


# --- what was asked for ----------------------------------------------------------
#
# Celery cannot tell "queued, not started yet" from "never heard of it": the
# result backend answers PENDING for any id at all. So the API writes down each
# submission (its intent, in MongoDB) before publishing it, and the status view
# answers 404 for an id it has no record of.


def record_intent(task_id: str, task_name: str, arguments: dict[str, Any], priority: int | None) -> Submission:
    """The durable record of what was asked (MongoDB, shown in the admin)."""
    return Submission.objects.create(task_id=task_id, task_name=task_name, arguments=arguments, priority=priority)


def forget_intent(task_id: str) -> None:
    """RabbitMQ refused the task: remove its record, so nothing is left behind and its status is 404."""
    try:
        Submission.objects.filter(task_id=task_id).delete()
    except DatabaseError:  # MongoDB failing too: the record stays, and its status reads PENDING
        logger.warning("could not remove the intent of refused task %s", task_id, exc_info=True)


def was_submitted(task_id: str) -> bool:
    return Submission.objects.filter(task_id=task_id).exists()


# --- the heavy work ----------------------------------------------------------------

ProgressCallback = Callable[[dict[str, Any]], None]


def progress(current: int, total: int, message: str) -> dict[str, Any]:
    """One progress report: the shape GET /api/async/status shows under `progress`."""
    percent = int(current * 100 / total) if total else 100
    return {"current": current, "total": total, "percent": percent, "message": message}


def process_data(
    data: str, iterations: int, *, step_seconds: float, on_progress: ProgressCallback | None = None
) -> dict[str, Any]:
    """Chew on `data` `iterations` times, reporting progress after each round.

    A stand-in for anything slow (a report, an import): a chain of hashes plus
    a sleep per round. Returns a small JSON-safe summary, with one
    "<DATA>_ITERATION_<n>" entry per iteration as the source material's did.
    """
    if not 1 <= iterations <= 1_000:
        raise ValueError(f"iterations must be between 1 and 1000, not {iterations}")
    digest = hashlib.sha256(data.encode()).hexdigest()
    label = data[:60].upper()
    processed_items = []
    for i in range(1, iterations + 1):
        digest = hashlib.sha256(f"{digest}:{i}".encode()).hexdigest()
        processed_items.append(f"{label}_ITERATION_{i}")
        time.sleep(step_seconds)
        if on_progress is not None:
            on_progress(progress(i, iterations, f"Processed iteration {i} of {iterations}"))
    return {
        "iterations": iterations,
        "total": iterations,
        "processed_items": processed_items,
        "characters": len(data),
        "words": len(data.split()),
        "preview": label,
        "digest": digest,
        "completed_at": now().isoformat(),
    }


class StorageUnavailable(Exception):
    """MongoDB did not answer while a result was stored: the work is done, the write is worth retrying."""


def store_result(task_id: str, task_name: str, result: dict[str, Any]) -> TaskResult:
    """Keep a task's result in MongoDB: ONE document per task id, however often it runs.

    With acks_late a task can run twice (a worker dies before it acknowledges,
    the broker redelivers), and a retried write may have landed the first time.
    The task id is the primary key (`_id`): the first run inserts, a later run
    finds it and only counts itself. Raises StorageUnavailable when MongoDB is
    down or hung; any other database error is a bug, raised as it is.
    """
    try:
        try:
            stored, created = TaskResult.objects.get_or_create(
                task_id=task_id, defaults={"task_name": task_name, "result": result}
            )
        except IntegrityError:  # two runs inserted at the same moment: the other one won
            stored, created = TaskResult.objects.get(task_id=task_id), False
        if not created:
            TaskResult.objects.filter(task_id=task_id).update(deliveries=F("deliveries") + 1)
    except DatabaseError as exc:
        cause = exc.__cause__
        if isinstance(cause, pymongo.errors.ConnectionFailure) or getattr(cause, "timeout", False):
            raise StorageUnavailable(f"MongoDB did not answer ({type(cause).__name__}): result not stored") from exc
        raise
    return stored


# --- the welcome email ---------------------------------------------------------------


class EmailServiceUnavailable(Exception):
    """The mail server could not be reached right now: worth retrying later."""


def send_welcome_email(email: str, name: str, *, seconds: float) -> dict[str, Any]:
    """'Send' a welcome email (a stand-in for a slow conversation with a mail server)."""
    subject = f"Welcome to Queue Labs, {name}!"
    time.sleep(seconds)
    return {"email": email, "name": name, "subject": subject, "status": "sent", "sent_at": now().isoformat()}


# --- the periodic digest ---------------------------------------------------------------


def make_digest(queue: str = "") -> Digest:
    """Count the tasks finished since the previous digest, and keep the count."""
    previous = Digest.objects.order_by("-created_at").first()
    since = previous.created_at if previous else None
    finished = TaskResult.objects.all()
    if since is not None:
        finished = finished.filter(stored_at__gt=since)
    by_task = Counter(finished.values_list("task_name", flat=True))
    return Digest.objects.create(since=since, finished=sum(by_task.values()), by_task=dict(by_task), queue=queue)
