"""MongoDB connections: one async client for the API, one sync client per worker process.

The API uses PyMongo's own AsyncMongoClient (Motor is deprecated): its calls
are awaited, so a database round trip never blocks the event loop. The
client is bound to the event loop that created it, so `main.py` creates it
in the lifespan (inside uvicorn's loop), not at import time.

A Celery worker runs plain functions, one task at a time per process, so the
ordinary blocking MongoClient is right there. It is created lazily, in the
process that uses it: a MongoClient must not be carried across a fork (the
prefork pool forks its children from the main worker process).
"""

from __future__ import annotations

from functools import lru_cache

from pymongo import AsyncMongoClient, MongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.database import Database

from app.core.config import settings

# Workers can afford to wait a little for MongoDB; the API cannot: every
# operation of its client (server selection, connecting, the query, one retry
# on a dropped pooled connection included) ends within DATABASE_TIMEOUT_SECONDS
# (`timeoutMS`, PyMongo's client-side operation timeout), then the API answers 503.
TIMEOUTS = {"serverSelectionTimeoutMS": 2_000, "connectTimeoutMS": 2_000, "socketTimeoutMS": 10_000}
API_TIMEOUTS = {"timeoutMS": int(settings.DATABASE_TIMEOUT_SECONDS * 1000)}

ITEMS = "items"
TASK_RESULTS = "task_results"
OUTBOX = "outbox"


def make_async_client() -> AsyncMongoClient:
    return AsyncMongoClient(settings.MONGODB_URL, tz_aware=True, **API_TIMEOUTS)


def async_database(client: AsyncMongoClient) -> AsyncDatabase:
    return client[settings.MONGODB_DB]


@lru_cache
def sync_client() -> MongoClient:
    return MongoClient(settings.MONGODB_URL, tz_aware=True, **TIMEOUTS)


def sync_database() -> Database:
    return sync_client()[settings.MONGODB_DB]
