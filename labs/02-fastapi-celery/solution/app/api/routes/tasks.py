"""Background work: submit a task (202 at once), then follow it by id.

Why `run_in_threadpool`: `apply_async` publishes to RabbitMQ over a
blocking socket, and AsyncResult reads Redis with a blocking client.
Called straight from an `async def` endpoint, either would freeze the event
loop (and every other request) for as long as the network takes: the very
problem of lab 01. Starlette's `run_in_threadpool` runs the call in a worker
thread and lets the loop carry on. (A plain `def` endpoint would also work:
FastAPI runs those in the same thread pool. We keep `async def` because the
Redis record of the id is awaited with an async client.)
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from celery import Task
from fastapi import APIRouter, HTTPException, Request, Response, status
from starlette.concurrency import run_in_threadpool

from app import services
from app.api.deps import RedisDep
from app.celery_app import PRIORITY_LEVELS, celery_app
from app.core.config import settings
from app.schemas import ProcessRequest, TaskAccepted, TaskStatus
from app.tasks import process_report

router = APIRouter()


async def enqueue(
    request: Request,
    response: Response,
    task: Task,
    *,
    kwargs: dict[str, Any],
    priority: int | None = None,
    what: str = "Task",
) -> TaskAccepted:
    """Record the id, publish the task without blocking the loop, answer 202 + Location."""
    redis = request.app.state.redis
    # BEGIN EXERCISE 2.3
    task_id = str(uuid4())
    # 1. Persist the intent: the status endpoint answers 404 for ids it never saw.
    await services.remember_submission(redis, task_id, task.name, settings.RESULT_TTL_SECONDS)
    # 2. Publish. apply_async blocks on the network: run it in a thread.
    try:
        await run_in_threadpool(task.apply_async, kwargs=kwargs, task_id=task_id, priority=priority)
    except Exception:
        await services.forget_submission(redis, task_id)  # nothing was queued after all
        raise
    # 3. Answer at once: 202 (set on the route) and where to follow the task.
    response.headers["Location"] = str(request.url_for("get_task_status", task_id=task_id))
    return TaskAccepted(task_id=task_id, message=f"{what} queued: follow it at /api/async/status/{task_id}")
    # END EXERCISE 2.3


@router.post("/process", status_code=status.HTTP_202_ACCEPTED, response_model=TaskAccepted)
async def submit_process(body: ProcessRequest, request: Request, response: Response) -> TaskAccepted:
    """Queue the heavy task. Answers in milliseconds, however long the work takes."""
    return await enqueue(
        request,
        response,
        process_report,
        kwargs={"data": body.data, "iterations": body.iterations},
        priority=PRIORITY_LEVELS[body.priority],
        what=f"Processing of {body.iterations} iterations",
    )


def read_state(task_id: str) -> tuple[str, Any]:
    """The task's state and info from the result backend. BLOCKING (a Redis round trip)."""
    result = celery_app.AsyncResult(task_id)
    return result.state, result.info


@router.get(
    "/status/{task_id}",
    name="get_task_status",
    response_model=TaskStatus,
    response_model_exclude_none=True,
    responses={404: {"description": "no task with this id was ever submitted"}},
)
async def get_task_status(task_id: str, redis: RedisDep) -> TaskStatus:
    """PENDING, STARTED, PROGRESS (with `progress`), SUCCESS (with `result`) or FAILURE (with `error`)."""
    # BEGIN EXERCISE 2.4
    # Celery answers PENDING for ANY id, even one it never saw: check our record first.
    if not await services.was_submitted(redis, task_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no task with id {task_id} was submitted")
    state, info = await run_in_threadpool(read_state, task_id)
    answer: dict[str, Any] = {"task_id": task_id, "status": state}
    if state == "PROGRESS":
        answer["progress"] = info  # {current, total, percent, message}
    elif state == "SUCCESS":
        answer["result"] = info
    elif state in ("FAILURE", "RETRY"):
        answer["error"] = f"{type(info).__name__}: {info}"  # info is the exception
    return TaskStatus(**answer)
    # END EXERCISE 2.4
