"""Which errors mean a server is down: a one-line 503 naming it, never a stack trace, never a hang.

Each client of the API has a time limit (app/main.py, app/db.py, app/broker.py);
when it runs out, or the server refuses, the error ends up here. The rest of how
trouble is answered (413, short 422s, 501 for starter code) is shared by the
FastAPI labs: queuelabs/web.py.
"""

from __future__ import annotations

import pymongo.errors
import redis.exceptions
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app.broker import BrokerRefused, BrokerUnavailable, PublishUnconfirmed
from queuelabs.web import one_line, service_down


async def mongodb_error(request: Request, exc: pymongo.errors.PyMongoError) -> JSONResponse:
    if isinstance(exc, pymongo.errors.ConnectionFailure) or exc.timeout:
        return service_down("MongoDB", exc)
    return JSONResponse({"detail": "MongoDB refused the operation"}, status_code=500)


async def redis_down(request: Request, exc: Exception) -> JSONResponse:
    return service_down("Redis", exc)


async def redis_refused(request: Request, exc: redis.exceptions.ResponseError) -> JSONResponse:
    """NOREPLICAS: a primary that has heard from no replica lately refuses writes (min-replicas-to-write,
    set when the nodes are hosts of their own): cut off, or back from a cut before the Sentinels demote
    it. Nothing was written; the next connection asks the Sentinels again. Any other refusal is a bug:
    raised on, as before."""
    if not str(exc).startswith("NOREPLICAS"):
        raise exc
    detail = "Redis refused the write: its primary has no replica in reach (a partition?): retry in a moment"
    return JSONResponse({"detail": detail}, status_code=503)


async def rabbitmq_down(request: Request, exc: BrokerUnavailable) -> JSONResponse:
    if isinstance(exc, BrokerRefused):  # a queue keeps the arguments it was first declared with
        detail = (
            f"RabbitMQ refused to declare a queue ({one_line(str(exc), 300)}): delete the old queue (see the lesson)"
        )
        return JSONResponse({"detail": detail}, status_code=503)
    return service_down("RabbitMQ", exc)


async def rabbitmq_unsure(request: Request, exc: PublishUnconfirmed) -> JSONResponse:
    """Sent, not confirmed: the API cannot know whether the task is queued, and says so."""
    status_path = f"/api/async/status/{exc.task_id}"
    detail = (
        f"RabbitMQ did not confirm the task in time ({exc}): it may run or not, and its status will tell "
        f"(GET {status_path}). To submit it again without running it twice, send an Idempotency-Key (lab 04)"
    )
    return JSONResponse({"detail": detail, "task_id": exc.task_id}, status_code=503, headers={"Location": status_path})


def install(app: FastAPI) -> None:
    app.add_exception_handler(pymongo.errors.PyMongoError, mongodb_error)
    app.add_exception_handler(redis.exceptions.ConnectionError, redis_down)
    app.add_exception_handler(redis.exceptions.TimeoutError, redis_down)
    app.add_exception_handler(redis.exceptions.ResponseError, redis_refused)
    app.add_exception_handler(BrokerUnavailable, rabbitmq_down)
    app.add_exception_handler(PublishUnconfirmed, rabbitmq_unsure)
