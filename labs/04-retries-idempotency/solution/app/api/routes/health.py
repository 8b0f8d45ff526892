"""GET /health: is every part of the system answering? Fast, even when one hangs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import httpx
from fastapi import APIRouter, Request, Response, status

from app.broker import bounded_connection
from app.celery_app import celery_app
from app.core.config import settings
from app.schemas import Health

router = APIRouter(tags=["health"])


def check_rabbitmq(timeout: float) -> None:
    with bounded_connection(timeout):
        pass


def check_worker(timeout: float) -> None:
    if not celery_app.control.ping(timeout=timeout, limit=1):  # an empty list, not an error, when nobody answers
        raise LookupError(f"no worker answered a ping within {timeout:g} s")


async def check_downstream(timeout: float) -> None:
    async with httpx.AsyncClient(timeout=timeout) as http:
        (await http.get(f"{settings.DOWNSTREAM_URL}/")).raise_for_status()


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
    checks = {
        "mongodb": request.app.state.db.command("ping"),
        "redis": request.app.state.redis.ping(),
        "rabbitmq": asyncio.to_thread(check_rabbitmq, limit),
        "worker": asyncio.to_thread(check_worker, limit * 0.6),
        "downstream": check_downstream(limit),
    }
    outcomes = await asyncio.gather(*(_bounded(check, limit) for check in checks.values()))
    services = dict(zip(checks, outcomes, strict=True))
    down = [name for name, state in services.items() if state != "ok"]
    if down:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(status="degraded" if down else "healthy", services=services, down=down)
