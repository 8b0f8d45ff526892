"""Exercise 1.1: a report that spends its time WAITING (for a partner API, a disk...).

Three ways to wait one second. Call /ping while they run and compare.
"""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Query

from app.work import simulated_io

router = APIRouter(prefix="/report/sleep", tags=["1.1 waiting"])

Seconds = Query(1.0, gt=0, le=10, description="how long the report waits")


@router.get("/blocking")
async def report_blocking(seconds: float = Seconds):
    """BROKEN ON PURPOSE: a blocking call inside `async def`.

    `time.sleep` does not give control back to the event loop. The loop is
    the only thread serving `async def` endpoints, so every other request
    on this server waits until the sleep is over.
    """
    started = time.perf_counter()
    simulated_io(seconds)
    return {"variant": "blocking", "seconds": seconds, "elapsed": time.perf_counter() - started}


@router.get("/threadpool")
def report_threadpool(seconds: float = Seconds):
    """Works, within limits: a plain `def` endpoint runs in a worker thread.

    FastAPI hands `def` endpoints to AnyIO's thread pool, so the loop stays
    free. The pool has 40 threads by default: the 41st concurrent call
    queues until one is free (see /stats).
    """
    started = time.perf_counter()
    simulated_io(seconds)
    return {"variant": "threadpool", "seconds": seconds, "elapsed": time.perf_counter() - started}


@router.get("/fixed")
async def report_fixed(seconds: float = Seconds):
    """The fix: wait with `await`, so the loop serves others meanwhile."""
    started = time.perf_counter()
    # TODO Exercise 1.1: Unfreeze the event loop. In report_fixed, wait `seconds`
    # without blocking: time.sleep holds the event loop's only thread, so every other
    # request waits with it.
    # `make hint EX=1.1` shows more hints; `make check LAB=01` grades your work.
    raise NotImplementedError("Exercise 1.1 is not done yet: Unfreeze the event loop")
    return {"variant": "fixed", "seconds": seconds, "elapsed": time.perf_counter() - started}
