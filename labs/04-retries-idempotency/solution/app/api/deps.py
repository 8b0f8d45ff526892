"""What a route needs, taken from the app's state (created in the lifespan, main.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from pymongo.asynchronous.database import AsyncDatabase
from redis.asyncio import Redis


def get_db(request: Request) -> AsyncDatabase:
    return request.app.state.db


def get_redis(request: Request) -> Redis:
    return request.app.state.redis


DbDep = Annotated[AsyncDatabase, Depends(get_db)]
RedisDep = Annotated[Redis, Depends(get_redis)]
