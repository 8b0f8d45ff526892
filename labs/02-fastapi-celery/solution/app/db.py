"""MongoDB connections: one async client for the API, one sync client per worker process.

The API awaits PyMongo's own AsyncMongoClient (Motor is deprecated), created in
the lifespan: it belongs to the event loop that created it. A worker runs one
task at a time per process: the blocking MongoClient, created lazily in the
process that uses it (a MongoClient must not cross the prefork pool's fork).
"""

from __future__ import annotations

from functools import lru_cache

from pymongo import AsyncMongoClient, MongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.database import Database

from app.core.config import settings

# Workers can wait a little for MongoDB; the API cannot: each operation of its client (server
# selection, connecting, the query, a retry) ends within `timeoutMS`, then the API answers 503.
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
