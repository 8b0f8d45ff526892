"""Two MongoDB clients for the same database: one that blocks, one that awaits.

- `MongoClient` (synchronous): every call blocks the calling thread until the
  server answers. Fine in a plain `def` endpoint (it runs in a worker
  thread); it freezes the event loop inside `async def`.
- `AsyncMongoClient` (PyMongo 4.13+, the successor of Motor): every call is
  a coroutine; while it waits for the server, the event loop serves others.
  It belongs to the event loop that created it, so it is created in the
  app's lifespan, inside uvicorn's loop.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from pymongo import AsyncMongoClient, MongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.collection import Collection

from app.core.config import settings
from app.work import REPORT_ID, REPORTS_COLLECTION

log = logging.getLogger(__name__)


class ReportMissing(Exception):
    """The one document the slow query scans is gone (someone dropped the database)."""


def open_clients(app: FastAPI) -> None:
    timeout = settings.MONGODB_TIMEOUT_MS
    options = dict(serverSelectionTimeoutMS=timeout, connectTimeoutMS=timeout)
    app.state.mongo = MongoClient(settings.MONGODB_URL, **options)
    app.state.amongo = AsyncMongoClient(settings.MONGODB_URL, **options)


async def seed(app: FastAPI) -> None:
    """The slow query needs exactly one document to scan."""
    try:
        await async_reports_of(app).replace_one(
            {"_id": REPORT_ID},
            {"_id": REPORT_ID, "title": "Quarterly report", "rows": 1234},
            upsert=True,
        )
    except Exception as exc:  # the non-database endpoints still work
        log.warning("MongoDB is not answering (%s): the /report/db/* endpoints will fail", exc)


async def close_clients(app: FastAPI) -> None:
    app.state.mongo.close()
    await app.state.amongo.close()


def async_reports_of(app: FastAPI) -> AsyncCollection:
    return app.state.amongo[settings.MONGODB_DB][REPORTS_COLLECTION]


def sync_reports(request: Request) -> Collection:
    """The reports collection through the blocking client."""
    return request.app.state.mongo[settings.MONGODB_DB][REPORTS_COLLECTION]


def async_reports(request: Request) -> AsyncCollection:
    """The reports collection through the awaitable client."""
    return async_reports_of(request.app)
