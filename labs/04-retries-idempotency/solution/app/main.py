"""The FastAPI application: `uvicorn app.main:app`.

The lifespan opens the clients once per process (inside uvicorn's event loop,
which AsyncMongoClient needs). The exception handlers turn trouble into one
honest line: starter code not written yet (501), a server down (503).
"""

from __future__ import annotations

from contextlib import asynccontextmanager

import amqp.exceptions
import kombu.exceptions
import pymongo.errors
import redis.exceptions
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from app.api.main import api_router
from app.broker import BrokerUnavailable
from app.core.config import settings
from app.db import async_database, make_async_client
from queuelabs.offline_docs import serve_docs_offline

START_HINT = "start the stack with: make up"


@asynccontextmanager
async def lifespan(app: FastAPI):
    mongo = make_async_client()
    app.state.mongo = mongo
    app.state.db = async_database(mongo)
    app.state.redis = Redis.from_url(
        settings.REDIS_URL,
        socket_timeout=2,
        socket_connect_timeout=2,
        decode_responses=True,
        # After a Redis restart every pooled connection is dead: reconnect and try again once,
        # instead of answering 503 for each stale connection in turn.
        retry=Retry(NoBackoff(), retries=1),
        retry_on_error=[redis.exceptions.ConnectionError],
    )
    try:
        yield
    finally:
        await app.state.redis.aclose()
        await mongo.close()


app = FastAPI(
    title="Queue Labs, lab 04: retries, crashes, duplicates, dead letters",
    description="Charges a flaky payment service from Celery tasks, once, whatever fails.",
    lifespan=lifespan,
)
serve_docs_offline(app)  # /docs and /redoc from local files: they work without internet
app.include_router(api_router)


@app.get("/", include_in_schema=False)
async def index() -> dict[str, str]:
    return {"docs": "/docs", "health": "/health", "submit": "POST /api/async/process", "dead": "/api/dead-letters"}


@app.exception_handler(NotImplementedError)
async def not_implemented(request: Request, exc: NotImplementedError) -> JSONResponse:
    message = str(exc)
    if message.startswith("Exercise "):  # starter code: say which exercise, not "500"
        return JSONResponse({"detail": message}, status_code=501)
    return JSONResponse({"detail": "Internal Server Error"}, status_code=500)


def _down(service: str, exc: Exception) -> JSONResponse:
    reason = (str(exc).splitlines() or [type(exc).__name__])[0] or type(exc).__name__
    reason = reason.split(" (configured timeouts")[0].split(", Timeout:")[0][:160]
    return JSONResponse({"detail": f"{service} is not answering ({reason}): {START_HINT}"}, status_code=503)


@app.exception_handler(pymongo.errors.ConnectionFailure)
async def mongodb_down(request: Request, exc: Exception) -> JSONResponse:
    return _down("MongoDB", exc)


@app.exception_handler(redis.exceptions.ConnectionError)
@app.exception_handler(redis.exceptions.TimeoutError)
async def redis_down(request: Request, exc: Exception) -> JSONResponse:
    return _down("Redis", exc)


@app.exception_handler(BrokerUnavailable)
@app.exception_handler(kombu.exceptions.OperationalError)
@app.exception_handler(amqp.exceptions.ConnectionError)
@app.exception_handler(TimeoutError)
async def rabbitmq_down(request: Request, exc: Exception) -> JSONResponse:
    return _down("RabbitMQ", exc)


@app.exception_handler(amqp.exceptions.PreconditionFailed)
async def queue_arguments_changed(request: Request, exc: Exception) -> JSONResponse:
    reason = str(exc).splitlines()[0][:200]
    detail = f"RabbitMQ refused to declare a queue ({reason}): delete the old queue, see the lesson's Troubleshooting"
    return JSONResponse({"detail": detail}, status_code=503)
