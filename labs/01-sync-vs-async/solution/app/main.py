"""Lab 01 app: the same slow report, served in ways that freeze the server and ways that do not.

Run it:  uvicorn app.main:app --port 8001   (from this folder; `make lab01`)
Measure: GET /ping answers at once, unless something is blocking the event loop.
"""

from __future__ import annotations

import asyncio
import os
import signal
from contextlib import asynccontextmanager

import anyio.to_thread
import pymongo.errors
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app import db
from app.api.routes import cpu, database, jobs, waiting
from app.core.config import settings
from app.pool import make_process_pool
from app.work import crunch
from queuelabs import web
from queuelabs.offline_docs import serve_docs_offline


@asynccontextmanager
async def lifespan(app: FastAPI):
    # Processes for CPU-bound work (exercise 1.3).
    app.state.process_pool = make_process_pool(settings.LAB01_CPU_WORKERS)
    # Start them now rather than on the first request (it takes a moment).
    loop = asyncio.get_running_loop()
    await asyncio.gather(
        *(loop.run_in_executor(app.state.process_pool, crunch, 1) for _ in range(settings.LAB01_CPU_WORKERS))
    )
    db.open_clients(app)
    await db.seed(app)
    stop_jobs_on_signals()
    yield
    await db.close_clients(app)
    # Drop queued reports, wait for running ones, then the processes exit.
    app.state.process_pool.shutdown(wait=True, cancel_futures=True)


def stop_jobs_on_signals() -> None:
    """On Ctrl+C (SIGINT) or a stop (SIGTERM), tell running background jobs to give up, then
    let uvicorn shut down as usual. Without this, uvicorn waits for them before it exits."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        uvicorn_handler = signal.getsignal(signum)
        if callable(uvicorn_handler):

            def handler(sig, frame, then=uvicorn_handler):
                jobs.STOPPING.set()
                then(sig, frame)

            signal.signal(signum, handler)


app = FastAPI(
    title="Lab 01: sync vs async",
    description="One slow report, served blocking, in threads, awaited, in processes and in the background.",
    lifespan=lifespan,
)
serve_docs_offline(app)  # /docs and /redoc from local files: they work without internet
# Starter code that is not written yet answers 501 with its exercise; bad input a short 422.
web.install(app, max_body_bytes=64 * 1024)


@app.exception_handler(pymongo.errors.ConnectionFailure)
async def mongodb_down(request: Request, exc: pymongo.errors.ConnectionFailure):
    """MongoDB is down or unreachable: say so in one line (503), never a 500 and a stack trace."""
    return web.service_down("MongoDB", exc)


@app.exception_handler(db.ReportMissing)
async def report_missing(request: Request, exc: db.ReportMissing):
    await db.seed(request.app)
    return JSONResponse(status_code=503, content={"detail": "the report document was missing: seeded it again, retry"})


@app.get("/ping", tags=["measure"])
async def ping():
    """The cheap endpoint: answers at once unless the event loop is blocked."""
    return {"pong": True}


@app.get("/ping/sync", tags=["measure"])
def ping_sync():
    """The same, as a plain `def`: it needs a free thread from the pool to answer."""
    return {"pong": True}


@app.get("/stats", tags=["measure"])
async def stats():
    """Who is serving: the process id, the thread pool's use, the jobs in memory."""
    limiter = anyio.to_thread.current_default_thread_limiter()
    return {
        "pid": os.getpid(),
        "threadpool": {"size": limiter.total_tokens, "busy": limiter.borrowed_tokens},
        "process_pool_workers": settings.LAB01_CPU_WORKERS,
        "jobs_in_memory": len(jobs.JOBS),
    }


app.include_router(waiting.router)
app.include_router(database.router)
app.include_router(cpu.router)
app.include_router(jobs.router)
