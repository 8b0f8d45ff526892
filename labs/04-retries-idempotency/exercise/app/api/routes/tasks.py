"""Submit a task (202 once RabbitMQ confirmed it), follow it by id.

Blocking calls (publishing, reading the result backend) run in threads:
`run_in_threadpool`, so the event loop never waits on the network.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import uuid4

from fastapi import APIRouter, Header, HTTPException, Request, Response, status
from starlette.concurrency import run_in_threadpool

from app import broker, services
from app.api.deps import DbDep, RedisDep
from app.celery_app import celery_app
from app.core.config import settings
from app.schemas import ProcessRequest, TaskAccepted, TaskStatus
from app.tasks import charge

router = APIRouter(prefix="/api/async", tags=["background tasks"])

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


async def accept(request: Request, response: Response, redis, body: ProcessRequest) -> TaskAccepted:
    """Record the id, publish with a confirm, answer 202 + Location."""
    task_id = str(uuid4())
    await services.remember_submission(redis, task_id, settings.RESULT_TTL_SECONDS)
    try:
        await run_in_threadpool(
            broker.publish,
            charge,
            kwargs={"data": body.data, "iterations": body.iterations},
            task_id=task_id,
            priority=PRIORITY_LEVELS[body.priority],
        )
    except BaseException:
        await services.forget_submission(redis, task_id)  # nothing was queued after all
        raise
    response.headers["Location"] = str(request.url_for("get_task_status", task_id=task_id))
    return TaskAccepted(task_id=task_id, message=f"Charge queued: follow it at /api/async/status/{task_id}")


@router.post(
    "/process",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=TaskAccepted,
    responses={
        409: {"description": "a request with this Idempotency-Key is still being accepted"},
        422: {"description": "bad input, or this Idempotency-Key was used with another body"},
        503: {"description": "RabbitMQ or Redis is not answering: nothing was queued"},
    },
)
async def submit_process(
    body: ProcessRequest, request: Request, response: Response, redis: RedisDep, idempotency_key: IdempotencyKey = None
) -> TaskAccepted:
    """Queue the charge. With an Idempotency-Key, a repeat gets the first answer back."""
    # TODO Exercise 4.5: Idempotency-Key on submission: a repeat gets the first answer.
    # In submit_process, when an Idempotency-Key header is sent: fingerprint the body,
    # claim the key (services.claim_idempotency_key). Owned by another request: 422 if
    # its body differs, 409 if it is still in flight, else return its stored answer.
    # Owned by you: accept, then store the answer (complete_idempotency_key), or release
    # the key if accepting failed.
    # `make hint EX=4.5` shows more hints; `make check LAB=04` grades your work.
    return await accept(request, response, redis, body)  # the key is ignored: every repeat is a new task


def read_state(task_id: str) -> dict[str, Any]:
    """The task's meta from the result backend. BLOCKING (a Redis round trip)."""
    return celery_app.backend.get_task_meta(task_id, cache=False)


@router.get(
    "/status/{task_id}",
    name="get_task_status",
    response_model=TaskStatus,
    response_model_exclude_none=True,
    responses={404: {"description": "no task with this id was ever submitted"}},
)
async def get_task_status(task_id: str, redis: RedisDep, db: DbDep) -> TaskStatus:
    """PENDING, STARTED, RETRY (with `error`: why), SUCCESS (with `result`) or FAILURE; `attempts` and the timeline."""
    if not await services.was_submitted(redis, task_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no task with id {task_id} was submitted")
    meta = await run_in_threadpool(read_state, task_id)
    state, info = meta["status"], meta.get("result")
    history = await services.timeline(db, task_id)
    answer: dict[str, Any] = {"task_id": task_id, "status": state, "history": history}
    answer["attempts"] = sum(len(entry.get("starts", [])) for entry in history)
    if state == "SUCCESS":
        answer["result"] = info
    elif state in ("FAILURE", "RETRY") and isinstance(info, dict):
        answer["error"] = f"{info.get('exc_type')}: {info.get('exc_message')}"
    elif state in ("FAILURE", "RETRY"):
        answer["error"] = f"{type(info).__name__}: {info}"
    return TaskStatus(**answer)
