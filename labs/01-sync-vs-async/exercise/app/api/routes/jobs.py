"""Exercise 1.4: accept the work, answer 202 at once, let the client poll.

FastAPI's BackgroundTasks run a function AFTER the response has been sent,
in the same process. The job table is a dict in this process's memory:
when the process stops, the jobs (finished, running or waiting) are gone.
Lab 02 moves them to a broker and a worker, where they survive.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, BackgroundTasks, HTTPException, Query

router = APIRouter(prefix="/jobs", tags=["1.4 background jobs"])

# job id -> {"job_id", "status", "seconds", "result"} (and "finished_at" once done)
JOBS: dict[str, dict] = {}
# Set when the server is asked to stop (Ctrl+C, make lab01 STOP=1; see main.py): running
# jobs give up at once and are lost with the process, instead of holding up the stop.
STOPPING = threading.Event()


def _now() -> str:
    return datetime.now(UTC).isoformat()


def run_report_job(job_id: str, seconds: float) -> None:
    """The slow report, run by BackgroundTasks after the 202 has gone out.

    A plain `def`, so Starlette runs it in the thread pool, not on the loop.
    """
    job = JOBS[job_id]
    job["status"] = "RUNNING"
    started = time.perf_counter()
    if STOPPING.wait(seconds):  # the slow report's wait (like simulated_io), cut short by a stop
        return  # lost: nothing outside this process knew about it
    job["result"] = {"rows": 1234, "elapsed": round(time.perf_counter() - started, 3)}
    job["status"] = "DONE"
    job["finished_at"] = _now()


@router.post("", status_code=202)
async def submit_job(background_tasks: BackgroundTasks, seconds: float = Query(2.0, gt=0, le=60)):
    """Record the job, schedule it, answer 202 (the route's status code) with its id."""
    # TODO Exercise 1.4: Answer 202 with a job id, then lose the job. submit_job: make
    # an id, store a PENDING job in JOBS, schedule run_report_job(job_id, seconds) with
    # background_tasks.add_task, and answer 202 with {job_id, status, status_url}.
    # job_status: return JOBS[job_id], or 404 when the id is unknown.
    # `make hint EX=1.4` shows more hints; `make check LAB=01` grades your work.
    raise NotImplementedError("Exercise 1.4 is not done yet: Answer 202 with a job id, then lose the job")


@router.get("/{job_id}")
async def job_status(job_id: str):
    """The job as this process remembers it; 404 when it has never heard of it."""
    # TODO Exercise 1.4: Answer 202 with a job id, then lose the job. submit_job: make
    # an id, store a PENDING job in JOBS, schedule run_report_job(job_id, seconds) with
    # background_tasks.add_task, and answer 202 with {job_id, status, status_url}.
    # job_status: return JOBS[job_id], or 404 when the id is unknown.
    # `make hint EX=1.4` shows more hints; `make check LAB=01` grades your work.
    raise NotImplementedError("Exercise 1.4 is not done yet: Answer 202 with a job id, then lose the job")
