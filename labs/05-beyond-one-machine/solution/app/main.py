"""The FastAPI application: `uvicorn app.main:app`.

The lifespan opens the clients once per process, inside uvicorn's event loop
(which AsyncMongoClient needs); every one has a time limit on every call.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from fastapi import FastAPI
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from app.api import errors
from app.api.main import routers
from app.broker import Broker
from app.celery_app import CeleryConfig
from app.core.config import settings
from app.db import async_database, make_async_client
from queuelabs import web
from queuelabs.offline_docs import serve_docs_offline


def sentinel_addresses(url: str) -> tuple[list[tuple[str, int]], int]:
    """`sentinel://h1:p1/db;sentinel://h2:p2/db` (Celery's form, one URL for both) -> ([(h1, p1), ...], db)."""
    parts = [urlsplit(one) for one in url.split(";")]
    return [(part.hostname or "127.0.0.1", part.port or 26379) for part in parts], int(parts[0].path.strip("/") or 0)


def make_redis(url: str, master_name: str) -> Redis:
    """An async client of the current Redis primary, found through the Sentinels, that gives up
    after DATABASE_TIMEOUT_SECONDS.

    After a failover the old connections fail; the client asks the Sentinels again and
    follows the new primary. redis-py retries 10 times by default, timeouts included:
    seconds for a frozen server. Here only a dropped connection is retried, once.
    """
    limit = settings.DATABASE_TIMEOUT_SECONDS
    retry = Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))
    # BEGIN EXERCISE 5.5
    # master_for: a client whose every new connection asks the Sentinels where the primary is.
    sentinels, db = sentinel_addresses(url)
    sentinel = Sentinel(sentinels, socket_timeout=limit, socket_connect_timeout=limit)
    return sentinel.master_for(
        master_name, db=db, socket_timeout=limit, socket_connect_timeout=limit, retry=retry, decode_responses=True
    )
    # STARTER
    # # lab 04's: one server, the primary when the lab started
    # return Redis.from_url(
    #     settings.REDIS_SERVER_URL,
    #     socket_timeout=limit,
    #     socket_connect_timeout=limit,
    #     retry=retry,
    #     decode_responses=True,
    # )
    # END EXERCISE 5.5


@asynccontextmanager
async def lifespan(app: FastAPI):
    mongo = make_async_client()
    app.state.db = async_database(mongo)
    app.state.redis = make_redis(settings.REDIS_URL, settings.REDIS_MASTER_NAME)
    app.state.broker = Broker(
        CeleryConfig, settings.CELERY_BROKER_URL, settings.BROKER_TIMEOUT_SECONDS, settings.MAX_CONCURRENT_PUBLISHES
    )
    try:
        yield
    finally:
        app.state.broker.close()
        await app.state.redis.aclose()
        await mongo.close()


# No 307 from /api/items/ to /api/items: Starlette builds that redirect's Location from the Host
# header, which any client can forge. A path with a slash too many is a 404.
app = FastAPI(title=settings.PROJECT_NAME, lifespan=lifespan, redirect_slashes=False)
serve_docs_offline(app)  # /docs and /redoc from local files: they work without internet
for router in routers:
    app.include_router(router)
web.install(app, max_body_bytes=settings.MAX_BODY_BYTES, instance_name=settings.INSTANCE_NAME)  # 413, 422, 501
errors.install(app)  # 503s


@app.get("/", include_in_schema=False)
async def index() -> dict[str, str]:
    return {"docs": "/docs", "health": "/health", "submit": "POST /api/async/process"}
