"""Background work: submit a task (202 once RabbitMQ has it), then follow it by id.

Nothing here blocks the event loop: Redis is awaited; publishing and reading a task's state run in threads.
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from fastapi import APIRouter, HTTPException, Response, status
from fastapi.concurrency import run_in_threadpool
from redis.asyncio import Redis

from app import services
from app.api.deps import BrokerDep, RedisDep
from app.broker import Broker, PublishUnconfirmed
from app.celery_app import PRIORITY_LEVELS, celery_app
from app.core.config import settings
from app.schemas import ErrorDetail, ProcessRequest, TaskAccepted, TaskStatus
from queuelabs.web import describe_failure, one_line

router = APIRouter(
    prefix="/api/async",
    tags=["background tasks"],
    responses={503: {"model": ErrorDetail, "description": "RabbitMQ or Redis did not answer in time"}},
)

STATUS_PATH = "/api/async/status/{task_id}"


async def enqueue(
    broker: Broker,
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
        await broker.publish(task_name, kwargs=kwargs, task_id=task_id, priority=priority)
    except PublishUnconfirmed:
        raise  # it may run after all: keep the record, so its status can tell
    except Exception:
        await services.forget_submission(redis, task_id)  # nothing was queued
        raise
    # 3. Answer at once: 202 (set on the route) and where to follow the task. The
    #    Location is a path: never built from the request's Host header, which anyone can forge.
    response.headers["Location"] = STATUS_PATH.format(task_id=task_id)
    return TaskAccepted(task_id=task_id, message=f"{what} queued: follow it at {response.headers['Location']}")
    # END EXERCISE 2.3


@router.post("/process", status_code=status.HTTP_202_ACCEPTED, response_model=TaskAccepted)
async def submit_process(body: ProcessRequest, broker: BrokerDep, redis: RedisDep, response: Response) -> TaskAccepted:
    """Queue the heavy task. Answers in milliseconds, however long the work takes."""
    return await enqueue(
        broker,
        redis,
        response,
        "reports.process",
        kwargs={"data": body.data, "iterations": body.iterations},
        priority=PRIORITY_LEVELS[body.priority],
        what=f"Processing of {body.iterations} iterations",
    )


@router.get(
    "/status/{task_id}",
    name="get_task_status",
    response_model=TaskStatus,
    response_model_exclude_none=True,
    responses={404: {"model": ErrorDetail, "description": "no task with this id was ever submitted"}},
)
async def get_task_status(task_id: str, redis: RedisDep) -> TaskStatus:
    """PENDING, STARTED, PROGRESS (with `progress`), SUCCESS (with `result`) or FAILURE (with `error`)."""
    # BEGIN EXERCISE 2.4
    # Celery answers PENDING for ANY id, even one it never saw: check our record first.
    if not await services.was_submitted(redis, task_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no task with id {one_line(task_id, 100)} was submitted")
    # One read of the backend (AsyncResult's .state then .info would be two, which may disagree).
    meta = await run_in_threadpool(celery_app.backend.get_task_meta, task_id)
    state, info = meta["status"], meta.get("result")
    answer: dict[str, Any] = {"task_id": task_id, "status": state}
    if state == "PROGRESS":
        answer["progress"] = info  # {current, total, percent, message}
    elif state == "SUCCESS":
        answer["result"] = info
    elif state in ("FAILURE", "RETRY"):
        answer["error"] = describe_failure(info)  # info is the stored exception
    return TaskStatus(**answer)
    # END EXERCISE 2.4
