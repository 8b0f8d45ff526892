"""Exercise 1.2: a report that waits for the DATABASE.

MongoDB is made slow on purpose (see work.slow_query): the server sleeps
before it answers, the way a heavy query would. What matters is what our
process does while it waits for the answer.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Query, Request

from app.db import ReportMissing, async_reports, sync_reports
from app.work import slow_query

router = APIRouter(prefix="/report/db", tags=["1.2 database"])

Seconds = Query(0.5, gt=0, le=10, description="how long MongoDB takes to answer")


def _answer(variant: str, doc: dict | None, started: float, seconds: float) -> dict:
    if doc is None:  # the database was dropped since start-up: main.py seeds it again, answers 503
        raise ReportMissing()
    return {
        "variant": variant,
        "seconds": seconds,
        "title": doc["title"],
        "elapsed": time.perf_counter() - started,
    }


@router.get("/blocking")
async def report_db_blocking(request: Request, seconds: float = Seconds):
    """BROKEN ON PURPOSE: the synchronous driver inside `async def`.

    `find_one` of the sync `MongoClient` blocks this thread until mongod
    answers. This thread is the event loop's thread: the whole server waits.
    """
    started = time.perf_counter()
    doc = sync_reports(request).find_one(slow_query(seconds))
    return _answer("blocking", doc, started, seconds)


@router.get("/threadpool")
def report_db_threadpool(request: Request, seconds: float = Seconds):
    """Works: the sync driver in a plain `def` endpoint (runs in the thread pool)."""
    started = time.perf_counter()
    doc = sync_reports(request).find_one(slow_query(seconds))
    return _answer("threadpool", doc, started, seconds)


@router.get("/fixed")
async def report_db_fixed(request: Request, seconds: float = Seconds):
    """The fix: PyMongo's AsyncMongoClient, awaited."""
    started = time.perf_counter()
    # BEGIN EXERCISE 1.2
    doc = await async_reports(request).find_one(slow_query(seconds))
    # END EXERCISE 1.2
    return _answer("fixed", doc, started, seconds)
