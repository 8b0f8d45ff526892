"""Submit a task (202 once RabbitMQ confirmed it), follow it by id.

As in lab 02: the record of submitted ids in Redis (awaited), publishing
through the API's Broker (app/broker.py: in a thread, every step bounded),
the state read once from Celery's result backend, in a thread. Lab 04 adds
the Idempotency-Key (exercise 4.5) and each attempt's timeline; lab 05 keeps
the keys in MongoDB (exercise 5.6).
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import uuid4

from fastapi import APIRouter, Header, HTTPException, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import Field
from redis.asyncio import Redis

from app import services
from app.api.deps import BrokerDep, DbDep, RedisDep
from app.broker import Broker, PublishUnconfirmed
from app.celery_app import celery_app
from app.core.config import settings
from app.schemas import ErrorDetail, ProcessRequest, TaskAccepted, TaskStatus
from app.tasks import charge
from queuelabs.web import describe_failure, one_line

router = APIRouter(
    prefix="/api/async",
    tags=["background tasks"],
    responses={503: {"model": ErrorDetail, "description": "RabbitMQ or Redis did not answer in time"}},
)

STATUS_PATH = "/api/async/status/{task_id}"
PRIORITY_LEVELS = {"low": 1, "normal": 5, "high": 9}
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="send the same key again (same body) and get the first answer back, not a second task",
    ),
]

# A key belongs to the client that sent it. This lab has no logins, so a client names itself here;
# behind a login, the account the credentials prove takes this header's place.
ClientId = Annotated[
    str | None,
    Header(
        alias="X-Client-Id",
        min_length=1,
        max_length=100,
        description="who sends the Idempotency-Key: another client's same key is another key",
    ),
]


class TaskTimeline(TaskStatus):
    """Lab 02's status, plus how many times a worker started the task and each attempt."""

    attempts: int = Field(default=0, description="times a worker started the task (retries + 1, redeliveries too)")
    history: list[dict[str, Any]] = Field(default_factory=list, description="one entry per attempt: the timeline")


async def accept(
    broker: Broker, redis: Redis, response: Response, body: ProcessRequest, task_id: str | None = None
) -> TaskAccepted:
    """Record the id, publish with a confirm, answer 202 + Location (a path, never built from the Host header).

    `task_id`: publish a task that may already be queued (its first publish went unconfirmed) again."""
    fresh, task_id = task_id is None, task_id or str(uuid4())
    await services.remember_submission(redis, task_id, settings.RESULT_TTL_SECONDS)
    try:
        await broker.publish(
            charge.name,
            kwargs={"data": body.data, "iterations": body.iterations},
            task_id=task_id,
            priority=PRIORITY_LEVELS[body.priority],
        )
    except PublishUnconfirmed:
        raise  # it may run after all: keep the record, so its status can tell
    except BaseException:
        if fresh:  # nothing was queued
            await services.forget_submission(redis, task_id)
        raise
    response.headers["Location"] = STATUS_PATH.format(task_id=task_id)
    return TaskAccepted(task_id=task_id, message=f"Charge queued: follow it at {response.headers['Location']}")


@router.post(
    "/process",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=TaskAccepted,
    responses={
        409: {"description": "a request with this Idempotency-Key is still being accepted"},
        422: {"description": "bad input, or this Idempotency-Key was used with another body"},
        503: {"description": "RabbitMQ, Redis or MongoDB is not answering: nothing was queued"},
    },
)
async def submit_process(
    body: ProcessRequest,
    broker: BrokerDep,
    redis: RedisDep,
    db: DbDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
    client_id: ClientId = None,
) -> TaskAccepted:
    """Queue the charge. With an Idempotency-Key, the same client's repeat gets the first answer back."""
    if idempotency_key is None:
        return await accept(broker, redis, response, body)
    # BEGIN EXERCISE 5.6
    keys = services.idempotency_keys(db)  # MongoDB, majority writes: a key outlives any one node
    # STARTER
    # keys = redis  # lab 04's: the keys on the Redis primary
    # END EXERCISE 5.6
    key = services.client_key(client_id, idempotency_key)  # never another client's answer
    body_print = services.fingerprint(body.model_dump())
    owner = await services.claim_idempotency_key(keys, key, body_print, settings.IDEMPOTENCY_LOCK_SECONDS)
    if owner is not None:
        if owner["fingerprint"] != body_print:
            raise HTTPException(422, "this Idempotency-Key was already used with another request body: use a new key")
        if owner["state"] == "in-flight":
            raise HTTPException(409, "a request with this Idempotency-Key is still being accepted: retry in a moment")
        if owner["state"] == "done":
            answer = TaskAccepted(**owner["answer"])
            response.headers["Location"] = STATUS_PATH.format(task_id=answer.task_id)
            response.headers["Idempotent-Replayed"] = "true"
            return answer
    # "unconfirmed": the first publish may have reached RabbitMQ, or not. Publish the SAME task id
    # again: if both copies run, the charge is keyed by the task id and happens once (4.4).
    task_id = owner["task_id"] if owner is not None else None
    try:
        answer = await accept(broker, redis, response, body, task_id)
    except PublishUnconfirmed as exc:  # it may run: a retry with this key must publish this id again
        await services.hold_unconfirmed_idempotency_key(
            keys, key, body_print, exc.task_id, settings.IDEMPOTENCY_TTL_SECONDS
        )
        raise
    except BaseException:
        if task_id is None:  # nothing of this key's was queued: the client may start afresh
            await services.release_idempotency_key(keys, key)
        raise
    await services.complete_idempotency_key(
        keys, key, body_print, answer.model_dump(), settings.IDEMPOTENCY_TTL_SECONDS
    )
    return answer


@router.get(
    "/status/{task_id}",
    name="get_task_status",
    response_model=TaskTimeline,
    response_model_exclude_none=True,
    responses={404: {"description": "no task with this id was ever submitted"}},
)
async def get_task_status(task_id: str, redis: RedisDep, db: DbDep) -> TaskTimeline:
    """PENDING, STARTED, RETRY (with `error`: why), SUCCESS (with `result`) or FAILURE; `attempts` and the timeline."""
    if not await services.was_submitted(redis, task_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no task with id {one_line(task_id, 100)} was submitted")
    # One read of the backend (AsyncResult's .state then .info would be two, which may disagree).
    meta = await run_in_threadpool(celery_app.backend.get_task_meta, task_id)
    state, info = meta["status"], meta.get("result")
    history = await services.timeline(db, task_id)
    answer: dict[str, Any] = {"task_id": task_id, "status": state, "history": history}
    answer["attempts"] = sum(len(entry.get("starts", [])) for entry in history)
    if state == "SUCCESS":
        answer["result"] = info
    elif state in ("FAILURE", "RETRY"):
        answer["error"] = describe_failure(info)  # info is the stored exception
    return TaskTimeline(**answer)
