"""GET /health: is every part of the system answering? Fast, even when one hangs.

Lab 02's checks, plus the payment service. They run at the same time, each
with its own time limit: MongoDB and Redis through their async clients,
RabbitMQ on a connection of its own, in a thread (app/broker.py), and the
same connection says whether a worker consumes the work queue.
"""

from __future__ import annotations

import asyncio

import httpx
from fastapi import APIRouter, Response, status

from app.api.deps import BrokerDep, DbDep, RedisDep
from app.celery_app import WORK_QUEUE
from app.core.config import settings
from app.schemas import Health
from queuelabs.web import health_of

router = APIRouter(tags=["health"])


async def check_downstream(timeout: float) -> None:
    async with httpx.AsyncClient(timeout=timeout) as http:
        (await http.get(f"{settings.DOWNSTREAM_URL}/")).raise_for_status()


@router.get("/health", response_model=Health, responses={503: {"model": Health, "description": "degraded"}})
async def health(db: DbDep, redis: RedisDep, broker: BrokerDep, response: Response) -> Health:
    limit = settings.HEALTH_TIMEOUT_SECONDS
    consumers: dict[str, int] = {}

    async def count_consumers() -> None:
        consumers.update(await broker.consumers([WORK_QUEUE], limit))

    outcomes = await asyncio.gather(
        health_of(db.command("ping"), limit),
        health_of(redis.ping(), limit),
        health_of(count_consumers(), limit),
        health_of(check_downstream(limit), limit),
    )
    services = dict(zip(("mongodb", "redis", "rabbitmq", "downstream"), outcomes, strict=True))
    if services["rabbitmq"] != "ok":
        services["worker"] = "down: unknown, RabbitMQ did not answer"
    elif not consumers.get(WORK_QUEUE):
        services["worker"] = f"down: no worker consumes {WORK_QUEUE}"
    else:
        services["worker"] = "ok"
    down = [name for name, state in services.items() if state != "ok"]
    if down:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(status="degraded" if down else "healthy", services=services, down=down)
