"""The business logic: plain functions, no Celery and no FastAPI in sight.

The task (app/tasks.py) calls these in a worker; the routes (app/api/routes)
call the async ones in the API. What this lab teaches lives here: which errors
are worth a retry, how long to wait before one, how a charge is made once
however often it is attempted, and how a submission is accepted once however
often it is sent.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pymongo.errors
from pymongo import WriteConcern
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.collection import Collection
from pymongo.database import Database

from app.db import IDEMPOTENCY_KEYS, TASK_ATTEMPTS, TASK_RESULTS

log = logging.getLogger(__name__)


def now() -> datetime:
    return datetime.now(UTC)


# --- errors: worth a retry, or not --------------------------------------------


class DownstreamUnavailable(Exception):
    """The payment service did not answer, or answered 5xx/429: it may work in a moment."""


class DownstreamRejected(Exception):
    """The payment service said no (4xx): asking again gives the same answer."""


# --- retries: exponential backoff with full jitter ------------------------------


def backoff_delay(retries: int, *, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number `retries + 1`: uniform in [0, min(cap, base * 2**retries)].

    "Full jitter": spreading retries over the whole window keeps a hundred
    tasks that failed together from all coming back at the same instant.
    """
    window = min(cap, base * 2**retries)
    return (rng or random).uniform(0, window)


# --- the work and the charge ---------------------------------------------------


def process_data(data: str, iterations: int, *, step_seconds: float) -> dict[str, Any]:
    """The work before the charge: a chain of hashes plus a sleep per round."""
    digest = hashlib.sha256(data.encode()).hexdigest()
    for i in range(1, iterations + 1):
        digest = hashlib.sha256(f"{digest}:{i}".encode()).hexdigest()
        time.sleep(step_seconds)
    return {"iterations": iterations, "characters": len(data), "digest": digest}


def charge_key(task_id: str) -> str:
    """The downstream idempotency key of a task: the same for every retry and redelivery."""
    return f"charge-{task_id}"


def charge(base_url: str, task_id: str, amount: int, *, timeout: float | None) -> dict[str, Any]:
    """Ask the payment service to charge `amount` for task `task_id`; its receipt.

    `timeout=None` waits for ever (a hung service hangs the caller too).
    """
    headers = {}
    # The same key on every attempt: the service charges the first time and
    # answers the same receipt to every repeat, so a retry after a lost answer,
    # or a redelivery after a crash, never charges twice.
    headers["Idempotency-Key"] = charge_key(task_id)
    try:
        response = httpx.post(
            f"{base_url}/charges", json={"reference": task_id, "amount": amount}, headers=headers, timeout=timeout
        )
    except httpx.HTTPError as exc:  # refused, reset, timed out: maybe later
        raise DownstreamUnavailable(f"{type(exc).__name__}: {exc}") from exc
    if response.status_code == 429 or response.status_code >= 500:
        raise DownstreamUnavailable(f"payment service answered {response.status_code}")
    if response.status_code >= 400:
        raise DownstreamRejected(f"payment service refused the charge: {response.status_code} {response.text[:200]}")
    return response.json()


# --- the stored result: once per task id -----------------------------------------


def ensure_indexes(db: Database) -> None:
    """The unique index makes a second document for one task id impossible, not just unlikely."""
    db[TASK_RESULTS].create_index("task_id", unique=True)
    db[TASK_ATTEMPTS].create_index([("task_id", 1), ("attempt", 1)])
    # Lab 05: an Idempotency-Key's record is deleted once it expired (within a minute: MongoDB's TTL
    # monitor runs every 60 s; services.claim_idempotency_key treats an expired record as gone).
    db[IDEMPOTENCY_KEYS].create_index("expires_at", expireAfterSeconds=0)


def store_result(collection: Collection, task_id: str, result: dict[str, Any]) -> None:
    """Keep the result of task `task_id`: the first run's result wins, later runs are counted."""
    collection.update_one(
        {"task_id": task_id},
        {"$setOnInsert": {"result": result, "stored_at": now()}, "$inc": {"runs": 1}},
        upsert=True,
    )


# --- the timeline: one document per attempt (best effort) ---------------------------


def record_attempt(db: Database, task_id: str, *, retries: int, redelivered: bool, worker: str) -> None:
    """Write down that an attempt started. Best effort: the timeline is for people, the
    task must not fail because it could not be written (MongoDB may be down)."""
    doc = {"task_id": task_id, "attempt": retries + 1, "redelivered": redelivered, "worker": worker}
    _best_effort(db, {"task_id": task_id, "attempt": retries + 1, "started_at": now()}, doc)


def record_outcome(db: Database, task_id: str, *, retries: int, outcome: str, **details: Any) -> None:
    _best_effort(db, {"task_id": task_id, "attempt": retries + 1}, {"outcome": outcome, "ended_at": now(), **details})


def _best_effort(db: Database, key: dict[str, Any], fields: dict[str, Any]) -> None:
    started_at = key.pop("started_at", None)
    update: dict[str, Any] = {"$set": fields}
    if started_at is not None:
        update["$push"] = {"starts": started_at}
    try:
        db[TASK_ATTEMPTS].update_one(key, update, upsert=True)
    except pymongo.errors.PyMongoError as exc:
        log.warning("timeline not written (%s): %s", type(exc).__name__, exc)


async def timeline(db, task_id: str) -> list[dict[str, Any]]:
    """Every attempt of a task, in order (the async database of the API)."""
    cursor = db[TASK_ATTEMPTS].find({"task_id": task_id}, {"_id": 0, "task_id": 0}).sort("attempt", 1)
    return [doc async for doc in cursor]


# --- which task ids were submitted --------------------------------------------------


def submission_key(task_id: str) -> str:
    return f"queuelabs:lab04:submitted:{task_id}"


async def remember_submission(redis, task_id: str, ttl_seconds: int) -> None:
    await redis.set(submission_key(task_id), "1", ex=ttl_seconds)


async def forget_submission(redis, task_id: str) -> None:
    await redis.delete(submission_key(task_id))


async def was_submitted(redis, task_id: str) -> bool:
    return bool(await redis.exists(submission_key(task_id)))


# --- Idempotency-Key on submission ---------------------------------------------------
#
# One record per client and key: {"fingerprint", "state": "in-flight"} while the first
# request is being accepted, then {"fingerprint", "state": "done", "answer"} for
# IDEMPOTENCY_TTL_SECONDS (or "unconfirmed" with the "task_id" to publish again, when
# RabbitMQ did not confirm). Lab 04 kept it in Redis (SET NX); lab 05 keeps it in MongoDB (5.6).


def fingerprint(body: dict[str, Any]) -> str:
    """The same JSON body (whatever its key order or spacing) gives the same fingerprint."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def client_key(client_id: str | None, key: str) -> str:
    """An Idempotency-Key as seen by the server: the client's key within that client's own keys.

    Two clients that both send `order-1` mean two orders. JSON, not "client:key": no pair of
    client and key can spell another pair. No client id: the key is in the anonymous clients' space."""
    return json.dumps([client_id or "", key])


# TODO Exercise 5.6: Where the idempotency key lives: a repeated order is accepted once
# when any node dies. Lab 04 claims an Idempotency-Key with SET NX on the Redis primary,
# which copies it to its replica a moment AFTER answering. If the primary dies in that
# moment, the Sentinels promote a replica that never saw the key, and the client's retry
# is accepted as a second order. Keep the keys in MongoDB: services.idempotency_keys(db)
# returns their collection, written with w="majority", and the route uses it (keys =
# services.idempotency_keys(db)).
# `make hint EX=5.6` shows more hints; `make check LAB=05` grades your work.
# lab 04's: one Redis key per client and key, claimed with SET NX (first one wins) on the primary
def idempotency_redis_key(key: str) -> str:
    return f"queuelabs:lab04:idempotency:{hashlib.sha256(key.encode()).hexdigest()}"


async def claim_idempotency_key(redis, key: str, body_fingerprint: str, lock_seconds: int) -> dict[str, Any] | None:
    """None when this request now owns `key`; else the record of the request that owns it."""
    record = json.dumps({"fingerprint": body_fingerprint, "state": "in-flight"})
    for _ in range(3):  # the owner may release the key between our SET and our GET
        if await redis.set(idempotency_redis_key(key), record, nx=True, ex=lock_seconds):
            return None
        raw = await redis.get(idempotency_redis_key(key))
        if raw is not None:
            return json.loads(raw)
    raise RuntimeError("Idempotency-Key kept changing hands")


async def complete_idempotency_key(
    redis, key: str, body_fingerprint: str, answer: dict[str, Any], ttl_seconds: int
) -> None:
    record = {"fingerprint": body_fingerprint, "state": "done", "answer": answer}
    await redis.set(idempotency_redis_key(key), json.dumps(record), ex=ttl_seconds)


async def hold_unconfirmed_idempotency_key(
    redis, key: str, body_fingerprint: str, task_id: str, ttl_seconds: int
) -> None:
    """The first request's publish went unconfirmed: its task may run. A retry publishes `task_id` again."""
    record = {"fingerprint": body_fingerprint, "state": "unconfirmed", "task_id": task_id}
    await redis.set(idempotency_redis_key(key), json.dumps(record), ex=ttl_seconds)


async def release_idempotency_key(redis, key: str) -> None:
    """The first request failed (503...): nothing was accepted, the client may try again."""
    await redis.delete(idempotency_redis_key(key))


# --- dead letters ----------------------------------------------------------------------


def why_dead(headers: dict[str, Any]) -> dict[str, Any]:
    """RabbitMQ's x-death header, in words: why, from which queue, when, how many times."""
    deaths = headers.get("x-death") or [{}]
    first = deaths[0]
    died_at = first.get("time")
    return {
        "reason": first.get("reason", "unknown"),
        "queue": first.get("queue"),
        "count": first.get("count", 1),
        "died_at": died_at.isoformat() if isinstance(died_at, datetime) else died_at,
    }
