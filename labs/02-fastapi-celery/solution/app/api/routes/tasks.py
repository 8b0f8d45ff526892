"""Background work: submit a task (202 at once), then follow it by id.

Nothing here blocks the event loop, and nothing takes a thread but the
publish itself:
- the record of submitted ids is in Redis, awaited with redis.asyncio;
- publishing goes through the API's TaskPublisher (app/broker.py): a kombu
  connection used in a thread, with a time limit on every step, so a
  RabbitMQ that hangs costs a submission a 503 after BROKER_TIMEOUT_SECONDS
  and costs the other routes nothing;
- a task's state is read from Celery's result backend with an async Redis
  client too (`read_state`), instead of the blocking AsyncResult.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import uuid4

from fastapi import APIRouter, HTTPException, Response, status
from redis.asyncio import Redis

from app import services
from app.api.deps import PublisherDep, RedisDep, ResultsDep
from app.api.errors import one_line
from app.broker import TaskPublisher
from app.celery_app import PRIORITY_LEVELS, celery_app
from app.core.config import settings
from app.schemas import ErrorDetail, ProcessRequest, TaskAccepted, TaskStatus

router = APIRouter(
    prefix="/api/async",
    tags=["background tasks"],
    responses={503: {"model": ErrorDetail, "description": "RabbitMQ or Redis did not answer in time"}},
)

STATUS_PATH = "/api/async/status/{task_id}"


async def enqueue(
    publisher: TaskPublisher,
    redis: Redis,
    response: Response,
    task_name: str,
    *,
    kwargs: dict[str, Any],
    priority: int | None = None,
    what: str = "Task",
) -> TaskAccepted:
    """Record the id, publish the task without blocking the loop, answer 202 + Location."""
    # BEGIN EXERCISE 2.3
    task_id = str(uuid4())
    # 1. Persist the intent: the status endpoint answers 404 for ids it never saw.
    await services.remember_submission(redis, task_id, task_name, settings.RESULT_TTL_SECONDS)
    # 2. Publish: awaited, bounded in time; BrokerUnavailable (a 503) when RabbitMQ does not confirm.
    try:
        await publisher.publish(task_name, kwargs=kwargs, task_id=task_id, priority=priority)
    except Exception:
        await services.forget_submission(redis, task_id)  # nothing was queued after all
        raise
    # 3. Answer at once: 202 (set on the route) and where to follow the task. The
    #    Location is a path: never built from the request's Host header, which anyone can forge.
    response.headers["Location"] = STATUS_PATH.format(task_id=task_id)
    return TaskAccepted(task_id=task_id, message=f"{what} queued: follow it at {response.headers['Location']}")
    # END EXERCISE 2.3


@router.post("/process", status_code=status.HTTP_202_ACCEPTED, response_model=TaskAccepted)
async def submit_process(
    body: ProcessRequest, publisher: PublisherDep, redis: RedisDep, response: Response
) -> TaskAccepted:
    """Queue the heavy task. Answers in milliseconds, however long the work takes."""
    return await enqueue(
        publisher,
        redis,
        response,
        "reports.process",
        kwargs={"data": body.data, "iterations": body.iterations},
        priority=PRIORITY_LEVELS[body.priority],
        what=f"Processing of {body.iterations} iterations",
    )


def describe_failure(error: Any) -> str:
    """ "ValueError: iterations must be ..." from Celery's stored exception, in one line, without server addresses."""
    if not isinstance(error, dict):
        return one_line(str(error))
    message = error.get("exc_message")
    if isinstance(message, list | tuple):
        message = message[0] if len(message) == 1 else ", ".join(map(str, message))
    message = str(message).split(" (configured timeouts")[0].split(", full error:")[0]  # drivers' long tails
    return one_line(f"{error.get('exc_type', 'Error')}: {message}", 200)


async def read_state(results: Redis, task_id: str) -> tuple[str, Any]:
    """The task's state and info, straight from the result backend (awaited, no thread).

    Celery keeps each task's state under one key (`celery-task-meta-<id>`), as
    JSON: {"status": ..., "result": ...}. No key yet means the task is still
    queued: PENDING.
    """
    raw = await results.get(celery_app.backend.get_key_for_task(task_id).decode())
    if raw is None:
        return "PENDING", None
    meta = json.loads(raw)
    return meta["status"], meta.get("result")


@router.get(
    "/status/{task_id}",
    name="get_task_status",
    response_model=TaskStatus,
    response_model_exclude_none=True,
    responses={404: {"model": ErrorDetail, "description": "no task with this id was ever submitted"}},
)
async def get_task_status(task_id: str, redis: RedisDep, results: ResultsDep) -> TaskStatus:
    """PENDING, STARTED, PROGRESS (with `progress`), SUCCESS (with `result`) or FAILURE (with `error`)."""
    # BEGIN EXERCISE 2.4
    # Celery answers PENDING for ANY id, even one it never saw: check our record first.
    if not await services.was_submitted(redis, task_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no task with id {one_line(task_id, 100)} was submitted")
    state, info = await read_state(results, task_id)
    answer: dict[str, Any] = {"task_id": task_id, "status": state}
    if state == "PROGRESS":
        answer["progress"] = info  # {current, total, percent, message}
    elif state == "SUCCESS":
        answer["result"] = info
    elif state in ("FAILURE", "RETRY"):
        answer["error"] = describe_failure(info)  # info is the stored exception
    return TaskStatus(**answer)
    # END EXERCISE 2.4
