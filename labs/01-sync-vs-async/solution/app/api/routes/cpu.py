"""Exercise 1.3: a report that COMPUTES (pure Python, CPU-bound).

Waiting can be awaited; computing cannot. Here there is nothing to await:
the question is which thread, or which process, does the arithmetic.
"""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Query, Request

from app.work import crunch

router = APIRouter(prefix="/report/cpu", tags=["1.3 cpu"])

N = Query(10_000_000, gt=0, le=500_000_000, description="loop turns (about 0.3 s per 10 million on a recent core)")


@router.get("/blocking")
async def report_cpu_blocking(n: int = N):
    """BROKEN ON PURPOSE: the computation runs on the event loop's thread."""
    started = time.perf_counter()
    total = crunch(n)
    return {"variant": "blocking", "n": n, "total": total, "elapsed": time.perf_counter() - started}


@router.get("/thread")
async def report_cpu_thread(n: int = N):
    """Better, not good: a worker thread. The loop runs, but shares the GIL.

    Only one thread runs Python bytecode at a time. The loop gets the GIL
    back only at switch points (every 5 ms by default), so each request it
    serves is slowed down, and two reports in threads take twice as long
    as one: threads give no parallelism for pure-Python work.
    """
    started = time.perf_counter()
    total = await asyncio.to_thread(crunch, n)
    return {"variant": "thread", "n": n, "total": total, "elapsed": time.perf_counter() - started}


@router.get("/fixed")
async def report_cpu_fixed(request: Request, n: int = N):
    """The fix: a process pool. Another process has its own interpreter and GIL."""
    started = time.perf_counter()
    # BEGIN EXERCISE 1.3
    loop = asyncio.get_running_loop()
    total = await loop.run_in_executor(request.app.state.process_pool, crunch, n)
    # END EXERCISE 1.3
    return {"variant": "fixed", "n": n, "total": total, "elapsed": time.perf_counter() - started}
