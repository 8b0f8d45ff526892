"""GET /health: is every part of the system answering? Fast, even when one hangs.

Four checks run at the same time, each with its own time limit:
MongoDB and Redis through their async clients (awaited), RabbitMQ and the
worker ping through blocking clients (so in threads). A check that does not
answer in time counts as down; the whole answer takes about one time limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from fastapi import APIRouter, Request, Response, status
from kombu import Connection

from app.celery_app import celery_app
from app.core.config import settings
from app.schemas import Health

router = APIRouter()


async def check_mongodb(request: Request) -> None:
    await request.app.state.db.command("ping")


async def check_redis(request: Request) -> None:
    await request.app.state.redis.ping()


def check_rabbitmq(timeout: float) -> None:
    with Connection(settings.CELERY_BROKER_URL, connect_timeout=timeout) as conn:
        conn.connect()


def check_worker(timeout: float) -> None:
    # ping() does NOT raise when nobody answers: it waits `timeout` seconds and
    # returns an empty list. `limit=1` returns as soon as one worker replies.
    replies = celery_app.control.ping(timeout=timeout, limit=1)
    if not replies:
        raise LookupError(f"no worker answered a ping within {timeout:g} s")


async def _bounded(check: Awaitable[None], timeout: float) -> str:
    try:
        await asyncio.wait_for(check, timeout)
        return "ok"
    except TimeoutError:
        return f"down: no answer within {timeout:g} s"
    except Exception as exc:  # any failure of a probe means "down"; say why in one line
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return f"down: {reason[:200]}"


@router.get("/health", response_model=Health, responses={503: {"model": Health, "description": "degraded"}})
async def health(request: Request, response: Response) -> Health:
    limit = settings.HEALTH_TIMEOUT_SECONDS
    ping_time = limit * 0.6  # leaves time for the ping's own connection set-up
    checks = {
        "mongodb": check_mongodb(request),
        "redis": check_redis(request),
        "rabbitmq": asyncio.to_thread(check_rabbitmq, limit),
        "worker": asyncio.to_thread(check_worker, ping_time),
    }
    outcomes = await asyncio.gather(*(_bounded(check, limit) for check in checks.values()))
    services = dict(zip(checks, outcomes, strict=True))
    down = [name for name, state in services.items() if state != "ok"]
    if down:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(status="degraded" if down else "healthy", services=services, down=down)
