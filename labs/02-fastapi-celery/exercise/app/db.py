"""MongoDB: AsyncMongoClient for the API (made in the lifespan, it belongs to that event loop);
a blocking MongoClient per worker process, made lazily (a MongoClient must not cross the prefork pool's fork).
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
