"""The dead-letter queue, seen and replayed through the API.

A task that failed for good (retries exhausted, a refusal, a bug) or a
message no worker can handle (a poison message: an unknown task, say) is
rejected by the worker; RabbitMQ re-routes it through the dead-letter
exchange to `payments.dead`, where it waits for a person. Listing does not
consume: the messages are taken unacknowledged and go back when the channel closes.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from app import dead_letters, services
from app.api.deps import BrokerDep, RedisDep
from app.api.routes.tasks import STATUS_PATH
from app.celery_app import celery_app
from app.core.config import settings
from app.schemas import ErrorDetail, TaskAccepted
from queuelabs.web import describe_failure, one_line

router = APIRouter(
    prefix="/api/dead-letters",
    tags=["dead letters"],
    responses={503: {"model": ErrorDetail, "description": "RabbitMQ or Redis did not answer in time"}},
)


class DeadLetter(BaseModel):
    task_id: str
    task: str | None
    reason: str  # RabbitMQ's: rejected, expired, maxlen, delivery_limit
    queue: str | None
    died_at: str | None
    error: str | None = Field(default=None, description="the task's last error, from the result backend")


class DeadLetters(BaseModel):
    count: int
    dead_letters: list[DeadLetter]


def _error_of(task_id: str) -> str | None:
    """The task's last error, from the result backend. BLOCKING (a Redis read)."""
    meta = celery_app.backend.get_task_meta(task_id)
    if meta["status"] != "FAILURE" or meta.get("result") is None:
        return None
    return describe_failure(meta["result"])


@router.get("", response_model=DeadLetters)
async def list_dead_letters(broker: BrokerDep, limit: int = Query(default=100, ge=1, le=1_000)) -> DeadLetters:
    """The messages in the dead-letter queue: which task, why it died, its last error."""
    letters = []
    for headers in await broker.run(lambda connection: dead_letters.peek(connection, limit)):
        task_id = str(headers.get("id") or "?")
        error = await run_in_threadpool(_error_of, task_id) if task_id != "?" else None
        death = services.why_dead(headers)
        letters.append(
            DeadLetter(
                task_id=task_id,
                task=headers.get("task"),
                reason=death["reason"],
                queue=death["queue"],
                died_at=death["died_at"],
                error=error,
            )
        )
    return DeadLetters(count=len(letters), dead_letters=letters)


@router.post(
    "/{task_id}/replay",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=TaskAccepted,
    responses={404: {"description": "no dead letter for this task id"}},
)
async def replay_dead_letter(task_id: str, broker: BrokerDep, redis: RedisDep) -> TaskAccepted:
    """Publish the dead task again (same id, so the same charge key: a charge that did happen is not repeated)."""
    headers = await broker.run(lambda connection: dead_letters.replay(connection, task_id))
    if headers is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no dead letter for task {one_line(task_id, 100)}")
    await services.remember_submission(redis, task_id, settings.RESULT_TTL_SECONDS)
    return TaskAccepted(task_id=task_id, message=f"Replayed: follow it at {STATUS_PATH.format(task_id=task_id)}")
