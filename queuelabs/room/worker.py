"""The room's worker: recomputes what the page shows, off the request path.

A post stores its results and enqueues `room.summarise` (at most one waiting at
a time, see app.summary_due); this task reads every stored result, computes the
summary (queuelabs/room/summary.py), keeps it in Redis for pages that open
later, and publishes it to the pages already open.

    celery -A queuelabs.room.worker worker -Q room --concurrency 1
"""

from __future__ import annotations

import json
import time
from functools import cache

from celery import Celery, signals
from kombu import Queue
from pymongo import MongoClient
from redis import Redis

from . import config, summary

SUMMARY_KEY = "room:summary"
EVENTS_CHANNEL = "room:events"
DUE_KEY = "room:summary-due"

app = Celery("room", broker=config.setting("ROOM_BROKER_URL"))
app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,  # the page hears about the summary through Redis, not a task result
    task_queues=[Queue("room")],
    task_default_queue="room",
    task_create_missing_queues=False,
    broker_connection_timeout=3,
    broker_connection_retry_on_startup=True,
)


@cache
def database():
    return MongoClient(config.setting("ROOM_MONGODB_URL"), serverSelectionTimeoutMS=5000)[
        config.setting("ROOM_MONGODB_DB")
    ]


@cache
def redis() -> Redis:
    return Redis.from_url(config.setting("ROOM_REDIS_URL"), socket_timeout=5)


@app.task(name="room.summarise")
def summarise_room() -> None:
    redis().delete(DUE_KEY)  # from here on, a new post asks for the next summary
    db = database()
    learners = list(db.learners.find({}, {"name": 1}).sort("joined_at", 1))
    fields = {"_id": 0, "learner": 1, "exercise": 1, "status": 1, "error": 1, "at": 1}
    text = json.dumps(summary.summarise(learners, list(db.results.find({}, fields)), time.time()))
    redis().set(SUMMARY_KEY, text)
    redis().publish(EVENTS_CHANNEL, text)


@signals.worker_ready.connect
def summarise_on_start(**_) -> None:
    """After a restart the page shows every stored result at once, before any new post."""
    summarise_room.delay()
