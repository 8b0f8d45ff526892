"""THE ANTI-PATTERN, kept only so `make bench LAB=02` can measure it. Do not copy this code.

This is the shape of the source material's FastAPI code: `async def`
endpoints that call synchronous PyMongo, synchronous Redis and Celery's
`apply_async` directly. Every one of those calls blocks the event loop
while it waits on the network, so one slow or frozen server stalls every
request the process serves, cheap ones included. The reference
(`solution/`) does the same work without ever blocking the loop; the
lesson's performance section compares the two, measured in one run.

Run by queuelabs/bench/ with the solution folder on PYTHONPATH (for the
Celery app and its configuration): `uvicorn naive_app:app`.
"""

from __future__ import annotations

import uuid

import redis
from fastapi import FastAPI, HTTPException
from pymongo import MongoClient

from app.celery_app import PRIORITY_LEVELS
from app.core.config import settings
from app.schemas import ProcessRequest
from app.services import submission_key
from app.tasks import process_report

app = FastAPI(title="lab 02, the NAIVE variant (anti-pattern, for the benchmark only)")
mongo = MongoClient(settings.MONGODB_URL, serverSelectionTimeoutMS=2000)  # blocking client...
db = mongo[settings.MONGODB_DB]
cache = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2)  # ...and another one


@app.get("/api/items")
async def list_items(limit: int = 50):
    docs = list(db["items"].find().sort("created_at", -1).limit(limit))  # BLOCKS the event loop
    for doc in docs:
        doc["id"] = str(doc.pop("_id"))
    return docs


@app.post("/api/async/process", status_code=202)
async def submit(body: ProcessRequest):
    task_id = str(uuid.uuid4())
    cache.set(submission_key(task_id), process_report.name, ex=settings.RESULT_TTL_SECONDS)  # BLOCKS
    try:
        process_report.apply_async(  # BLOCKS: a pooled connection, no time limit once it is open
            kwargs={"data": body.data, "iterations": body.iterations},
            task_id=task_id,
            priority=PRIORITY_LEVELS[body.priority],
        )
    except Exception as exc:
        raise HTTPException(503, f"RabbitMQ: {type(exc).__name__}") from exc
    return {"task_id": task_id, "status": "PENDING", "message": "queued"}
