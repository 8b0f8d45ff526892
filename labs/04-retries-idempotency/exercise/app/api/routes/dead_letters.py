"""The dead-letter queue, seen and replayed through the API.

A task that failed for good (retries exhausted, a refusal, a bug) or a
message no worker can handle (a poison message: an unknown task, say) is
rejected by the worker; RabbitMQ re-routes it through the dead-letter
exchange to `payments.dead`, where it waits for a person. Listing does not
consume: the messages are taken unacknowledged and go back when the channel closes.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, status
from starlette.concurrency import run_in_threadpool

from app import broker, services
from app.api.deps import RedisDep
from app.api.routes.tasks import read_state
from app.core.config import settings
from app.schemas import DeadLetter, DeadLetters, TaskAccepted

router = APIRouter(prefix="/api/dead-letters", tags=["dead letters"])


def _error_of(task_id: str) -> str | None:
    meta = read_state(task_id)
    info = meta.get("result")
    if meta["status"] != "FAILURE" or info is None:
        return None
    return f"{type(info).__name__}: {info}"


@router.get("", response_model=DeadLetters)
async def list_dead_letters(limit: int = Query(default=100, ge=1, le=1_000)) -> DeadLetters:
    """The messages in the dead-letter queue: which task, why it died, its last error."""
    letters = []
    for headers in await run_in_threadpool(broker.peek_dead_letters, limit):
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
async def replay_dead_letter(task_id: str, redis: RedisDep) -> TaskAccepted:
    """Publish the dead task again (same id, so the same charge key: a charge that did happen is not repeated)."""
    headers = await run_in_threadpool(broker.replay_dead_letter, task_id)
    if headers is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no dead letter for task {task_id}")
    await services.remember_submission(redis, task_id, settings.RESULT_TTL_SECONDS)
    return TaskAccepted(task_id=task_id, message=f"Replayed: follow it at /api/async/status/{task_id}")
