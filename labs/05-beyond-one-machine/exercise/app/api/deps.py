"""What a route needs, as typed dependencies: the clients the lifespan opened (main.py).

`async def` on purpose: FastAPI runs a plain `def` dependency in its thread pool, so
every request would wait for a thread. Routes take these, never `request.app.state`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from pymongo.asynchronous.database import AsyncDatabase
from redis.asyncio import Redis

from app.broker import Broker


async def get_db(request: Request) -> AsyncDatabase:
    return request.app.state.db


async def get_redis(request: Request) -> Redis:
    """The API's own Redis (REDIS_URL): which task ids were submitted."""
    return request.app.state.redis


async def get_broker(request: Request) -> Broker:
    return request.app.state.broker


DbDep = Annotated[AsyncDatabase, Depends(get_db)]
RedisDep = Annotated[Redis, Depends(get_redis)]
BrokerDep = Annotated[Broker, Depends(get_broker)]
