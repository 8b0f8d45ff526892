"""The business logic: plain functions, no Celery and no FastAPI, so it is tested without either."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.collection import Collection

from app.db import ITEMS


def now() -> datetime:
    return datetime.now(UTC)


# --- items ------------------------------------------------------------------


def _item_out(doc: dict[str, Any]) -> dict[str, Any]:
    doc = dict(doc)
    doc["id"] = str(doc.pop("_id"))
    return doc


async def create_item(db: AsyncDatabase, fields: dict[str, Any]) -> dict[str, Any]:
    stamp = now()
    doc = {**fields, "created_at": stamp, "updated_at": stamp}
    inserted = await db[ITEMS].insert_one(doc)
    doc["_id"] = inserted.inserted_id
    return _item_out(doc)


async def list_items(db: AsyncDatabase, *, skip: int = 0, limit: int = 50) -> list[dict[str, Any]]:
    cursor = db[ITEMS].find().sort("created_at", -1).skip(skip).limit(limit)
    return [_item_out(doc) async for doc in cursor]


async def get_item(db: AsyncDatabase, item_id: str) -> dict[str, Any] | None:
    """The item, or None when there is none with that id (a malformed id included)."""
    try:
        oid = ObjectId(item_id)
    except (InvalidId, TypeError):
        return None
    doc = await db[ITEMS].find_one({"_id": oid})
    return _item_out(doc) if doc else None


# --- which task ids were submitted ------------------------------------------
#
# Celery cannot tell "queued, not started yet" from "never heard of it": the
# result backend answers PENDING for any id at all. So the API writes down
# every id it submits, and the status endpoint answers 404 for the others.


def submission_key(task_id: str) -> str:
    return f"queuelabs:lab02:submitted:{task_id}"


async def remember_submission(redis, task_id: str, task_name: str, ttl_seconds: int) -> None:
    """`redis` is a redis.asyncio client: awaiting it never blocks the event loop."""
    await redis.set(submission_key(task_id), task_name, ex=ttl_seconds)


async def forget_submission(redis, task_id: str) -> None:
    await redis.delete(submission_key(task_id))


async def was_submitted(redis, task_id: str) -> bool:
    return bool(await redis.exists(submission_key(task_id)))


# --- the heavy work ----------------------------------------------------------

ProgressCallback = Callable[[dict[str, Any]], None]


def progress(current: int, total: int, message: str) -> dict[str, Any]:
    """One progress report: the shape GET /api/async/status shows under `progress`."""
    percent = int(current * 100 / total) if total else 100
    return {"current": current, "total": total, "percent": percent, "message": message}


def process_data(data: str, iterations: int, *, step_seconds: float, on_progress: ProgressCallback | None = None):
    """Chew on `data` `iterations` times, reporting progress after each round; a small, JSON-safe summary.

    The work is a stand-in (a chain of hashes and a sleep per round) for anything slow: a report, an import.
    """
    if not 1 <= iterations <= 1_000:
        raise ValueError(f"iterations must be between 1 and 1000, not {iterations}")
    digest = hashlib.sha256(data.encode()).hexdigest()
    processed_items = []
    for i in range(1, iterations + 1):
        digest = hashlib.sha256(f"{digest}:{i}".encode()).hexdigest()
        processed_items.append(f"{data.upper()}_ITERATION_{i}")
        time.sleep(step_seconds)
        if on_progress is not None:
            on_progress(progress(i, iterations, f"Processed iteration {i} of {iterations}"))
    return {
        "iterations": iterations,
        "characters": len(data),
        "words": len(data.split()),
        "preview": data[:60].upper(),
        "digest": digest,
        # The shape of the source material's walkthrough: one entry per iteration, and their number.
        "processed_items": processed_items,
        "total": len(processed_items),
        "completed_at": now().isoformat(),
    }


def store_result(collection: Collection, task_id: str, result: dict[str, Any]) -> None:
    """Keep the result of task `task_id` in MongoDB, ONE document per task id: with acks_late it may run twice."""
    # TODO Exercise 2.5: Store the result once, even when the task runs twice.
    # store_result uses insert_one: run the task twice (a redelivery after a crash) and
    # MongoDB holds two documents for one task. Make the write idempotent: key the
    # document by the task id and upsert it.
    # `make hint EX=2.5` shows more hints; `make check LAB=02` grades your work.
    collection.insert_one({"task_id": task_id, "result": result, "stored_at": now()})


# --- the welcome email ---------------------------------------------------------


class EmailServiceUnavailable(Exception):
    """The mail server could not be reached right now: worth retrying later (a bug is not: it fails at once)."""


def send_welcome_email(outbox: Collection, message_id: str, email: str, name: str, *, seconds: float) -> dict[str, Any]:
    """'Send' a welcome email: write it to the outbox collection, once per message id."""
    subject = f"Welcome to Queue Labs, {name}!"
    body = f"Hello {name},\n\nyour account is ready. Happy queueing!\n"
    time.sleep(seconds)  # the slow conversation with a mail server
    sent_at = now()
    outbox.update_one(
        {"_id": message_id},
        {"$setOnInsert": {"to": email, "subject": subject, "body": body, "sent_at": sent_at}},
        upsert=True,
    )
    return {"email": email, "name": name, "subject": subject, "status": "sent", "sent_at": sent_at.isoformat()}
