"""The room: learners post their grades, the trainer's page shows the whole workshop live.

The same shape the labs teach. A view validates, stores, enqueues and answers;
the work that is not the learner's business (recomputing the room's summary)
happens in the worker (queuelabs/room/worker.py), which publishes the result
on Redis; the page receives it pushed over server-sent events.

Every endpoint is `async def` and awaits its I/O: PyMongo's AsyncMongoClient,
redis.asyncio, and the one blocking call (publishing to RabbitMQ) in a thread
with a time limit. One slow laptop or a hung service never holds the room.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Literal

from fastapi import FastAPI, Header, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field, StringConstraints
from pymongo import AsyncMongoClient
from pymongo.errors import BulkWriteError, PyMongoError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from . import config, summary, worker

STATIC = Path(__file__).parent / "static"
OneLine = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[^\x00-\x1f\x7f]*$")]


class Join(BaseModel):
    code: Annotated[str, StringConstraints(max_length=20)]
    name: Annotated[OneLine, StringConstraints(min_length=1, max_length=config.MAX_NAME)]


class Result(BaseModel):
    """One exercise's grade: exactly what `make join` says is sent, nothing else."""

    id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]  # the learner's outbox makes it
    exercise: Annotated[str, StringConstraints(pattern=r"^\d{1,2}\.\d{1,2}$")]
    status: Literal["PASS", "FAIL", "TODO"]
    error: Annotated[OneLine, StringConstraints(max_length=config.MAX_ERROR)] = ""
    at: float = Field(gt=0)  # when it was graded, seconds since the epoch, by the learner's clock

    model_config = {"extra": "forbid"}


class Batch(BaseModel):
    results: list[Result] = Field(min_length=1, max_length=config.MAX_RESULTS_PER_POST)

    model_config = {"extra": "forbid"}


@asynccontextmanager
async def lifespan(app: FastAPI):
    mongo = AsyncMongoClient(config.setting("ROOM_MONGODB_URL"), serverSelectionTimeoutMS=3000, timeoutMS=5000)
    app.state.db = mongo[config.setting("ROOM_MONGODB_DB")]
    app.state.redis = Redis.from_url(config.setting("ROOM_REDIS_URL"), socket_timeout=3, socket_connect_timeout=3)
    room = await app.state.db.rooms.find_one({"_id": "room"})
    if room is None:
        raise RuntimeError("no room in MongoDB: start the room with `make room`, which creates it")
    app.state.code, app.state.trainer_key = room["code"], room["trainer_key"]
    yield
    await app.state.redis.aclose()
    await mongo.close()


app = FastAPI(
    title="Queue Labs room",
    lifespan=lifespan,
    max_body_size=config.MAX_BODY_BYTES,  # a bigger post is refused with 413 before it is read
    docs_url=None,
    redoc_url=None,
    openapi_url=None,
)
app.mount("/static", StaticFiles(directory=STATIC), name="static")


@app.exception_handler(RequestValidationError)
async def one_line_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"] if part != "body")
    return JSONResponse({"detail": f"{where}: {first['msg']}"}, status_code=422)


@app.exception_handler(PyMongoError)
@app.exception_handler(RedisError)
async def service_down(request: Request, exc: Exception) -> JSONResponse:
    which = "MongoDB" if isinstance(exc, PyMongoError) else "Redis"
    detail = f"the room's {which} does not answer; the trainer runs `make up` then `make room`"
    return JSONResponse({"detail": detail}, status_code=503)


async def within_rate(request: Request, who: str, limit: int) -> None:
    """A fixed window per learner (or per address, to join): over the limit is 429."""
    window = int(time.time() // config.RATE_WINDOW_SECONDS)
    key = f"room:rate:{who}:{window}"
    async with request.app.state.redis.pipeline(transaction=True) as pipe:
        count, _ = await pipe.incr(key).expire(key, config.RATE_WINDOW_SECONDS * 2).execute()
    if count > limit:
        headers = {"Retry-After": str(config.RATE_WINDOW_SECONDS)}
        raise HTTPException(429, f"too many requests: at most {limit} every {config.RATE_WINDOW_SECONDS} s", headers)


def same(given: str, secret: str) -> bool:
    """In constant time, and for any text (compare_digest refuses non-ASCII str)."""
    return secrets.compare_digest(given.encode(), secret.encode())


def check_code(request: Request, code: str) -> None:
    if not same(code.strip().upper(), request.app.state.code):
        raise HTTPException(403, "wrong room code: use the code `make room` printed on the trainer's screen")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def summary_due(request: Request) -> None:
    """Ask the worker for a new summary, once per burst of posts: the first post sets the flag
    and enqueues; the worker clears it before reading, so a later post asks again."""
    redis = request.app.state.redis
    if not await redis.set(worker.DUE_KEY, 1, nx=True, ex=30):
        return
    try:
        await asyncio.wait_for(asyncio.to_thread(worker.summarise_room.apply_async, retry=False), timeout=3)
    except Exception:  # the results are stored; the next post (or the worker's start) asks again
        await redis.delete(worker.DUE_KEY)


@app.get("/", include_in_schema=False)
async def page() -> FileResponse:
    return FileResponse(STATIC / "index.html")


@app.post("/api/join", status_code=201)
async def join(body: Join, request: Request) -> dict:
    await within_rate(request, f"join:{request.client.host if request.client else '?'}", config.JOINS_PER_WINDOW)
    check_code(request, body.code)
    learner, token = secrets.token_hex(4), secrets.token_urlsafe(24)
    await request.app.state.db.learners.insert_one(
        {"_id": learner, "name": body.name, "token": token_hash(token), "joined_at": time.time()}
    )
    await summary_due(request)
    return {"learner": learner, "token": token, "name": body.name}


@app.post("/api/results")
async def post_results(
    batch: Batch,
    request: Request,
    authorization: Annotated[str, Header()] = "",
    x_room_code: Annotated[str, Header()] = "",
) -> dict:
    """Store a learner's grades. Each result id is stored once per learner: a batch sent
    again (the answer was lost, the room was frozen) counts nothing twice."""
    check_code(request, x_room_code)
    db = request.app.state.db
    token = authorization.removeprefix("Bearer ").strip()
    learner = await db.learners.find_one({"token": token_hash(token)}, {"_id": 1}) if token else None
    if learner is None:
        raise HTTPException(401, "unknown learner token: run `make join` again")
    await within_rate(request, learner["_id"], config.POSTS_PER_WINDOW)
    now, documents = time.time(), []
    for result in batch.results:
        grade = result.model_dump(exclude={"id"})
        grade["at"] = min(result.at, now)  # a laptop's clock ahead of the room's must not make "stuck for" negative
        documents.append({"_id": f"{learner['_id']}:{result.id}", "learner": learner["_id"], **grade, "received": now})
    try:
        stored = len((await db.results.insert_many(documents, ordered=False)).inserted_ids)
    except BulkWriteError as exc:
        if any(error["code"] != 11000 for error in exc.details["writeErrors"]):
            raise
        stored = exc.details["nInserted"]  # the others were here already (duplicate key)
    if stored:
        await summary_due(request)
    return {"stored": stored, "already_here": len(documents) - stored}


def view(summary_json: str | bytes, key: str, trainer_key: str) -> str:
    """The page's data: with names for the trainer's key, numbered learners for anyone else."""
    if same(key, trainer_key):
        return summary_json if isinstance(summary_json, str) else summary_json.decode()
    return json.dumps(summary.without_names(json.loads(summary_json)))


@app.get("/api/summary")
async def current_summary(request: Request, key: str = "") -> JSONResponse:
    text = await request.app.state.redis.get(worker.SUMMARY_KEY)
    if text is None:
        await summary_due(request)
        raise HTTPException(503, "the room's summary is being computed: ask again in a second")
    return JSONResponse(json.loads(view(text, key, request.app.state.trainer_key)))


@app.get("/api/events", response_class=EventSourceResponse)
async def events(request: Request, key: str = ""):
    """The summary now, then every new one as the worker publishes it."""
    redis, trainer_key = request.app.state.redis, request.app.state.trainer_key
    async with redis.pubsub() as pubsub:
        await pubsub.subscribe(worker.EVENTS_CHANNEL)
        if (text := await redis.get(worker.SUMMARY_KEY)) is not None:
            yield ServerSentEvent(raw_data=view(text, key, trainer_key))
        else:
            await summary_due(request)
        while True:  # FastAPI sends a keep-alive comment while this waits; a closed tab cancels it
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is not None:
                yield ServerSentEvent(raw_data=view(message["data"], key, trainer_key))
