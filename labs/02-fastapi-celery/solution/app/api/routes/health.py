"""GET /health: is every part of the system answering? Fast, even when one hangs.

The checks run at the same time, each with its own time limit; a running worker consumes every queue.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response, status

from app.api.deps import BrokerDep, DbDep, RedisDep
from app.celery_app import queue_names
from app.core.config import settings
from app.schemas import Health
from queuelabs.web import health_of

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, responses={503: {"model": Health, "description": "degraded"}})
async def health(db: DbDep, redis: RedisDep, broker: BrokerDep, response: Response) -> Health:
    limit = settings.HEALTH_TIMEOUT_SECONDS
    consumers: dict[str, int] = {}

    async def count_consumers() -> None:
        consumers.update(await broker.consumers(queue_names(), limit))

    outcomes = await asyncio.gather(
        health_of(db.command("ping"), limit),
        health_of(redis.ping(), limit),
        health_of(count_consumers(), limit),
    )
    services = dict(zip(("mongodb", "redis", "rabbitmq"), outcomes, strict=True))
    idle = sorted(queue for queue, count in consumers.items() if count == 0)
    if services["rabbitmq"] != "ok":
        services["worker"] = "down: unknown, RabbitMQ did not answer"
    elif idle:
        services["worker"] = f"down: no worker consumes {', '.join(idle)}"
    else:
        services["worker"] = "ok"
    down = [name for name, state in services.items() if state != "ok"]
    if down:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(status="degraded" if down else "healthy", services=services, down=down)
