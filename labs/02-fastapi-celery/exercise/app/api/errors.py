"""How trouble is answered: short JSON, one line, never a stack trace, never a 500 for bad input.

- 413 for a request body over MAX_BODY_BYTES (checked before anything reads it);
- 422 for input that does not fit the contract, with each offending input cut
  short (an error answer never echoes megabytes back);
- 501 for starter code that is not written yet;
- 503 naming the server that did not answer in time (RabbitMQ, Redis, MongoDB).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pymongo.errors
import redis.exceptions
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.broker import BrokerRefused, BrokerUnavailable

START_HINT = "start the stack with: make up"
MAX_ECHO = 80  # characters of a bad input shown back in a 422
MAX_ERRORS = 10

# host:port pairs and URLs say where our servers are: not the caller's business.
_WHERE = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+|\b[\w.-]+:\d{2,5}\b|\b\d{1,3}(?:\.\d{1,3}){3}\b", re.IGNORECASE)


def one_line(text: str, limit: int = 200) -> str:
    """The first line of `text`, without server addresses, safe to encode as UTF-8, at most `limit` characters."""
    line = (text.splitlines() or [""])[0]
    line = _WHERE.sub("<server>", line)
    line = line.encode("utf-8", "backslashreplace").decode("utf-8")  # a lone surrogate cannot be sent
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _short(value: Any) -> Any:
    """A bad input, small enough to show back, and safe to write as JSON."""
    if isinstance(value, bytes):  # a body that is not JSON at all
        value = value[: MAX_ECHO * 4].decode("utf-8", "replace")
    if isinstance(value, str):
        return one_line(value, MAX_ECHO)
    if isinstance(value, bool | int | float) or value is None:
        return value
    text = json.dumps(value, default=str, ensure_ascii=True)  # ASCII: lone surrogates become \ud800
    return _utf8(json.loads(text)) if len(text) <= MAX_ECHO else f"{text[: MAX_ECHO - 1]}…"


def _utf8(value: Any) -> Any:
    """`value` with every string made encodable (a lone surrogate written as its escape)."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_utf8(key): _utf8(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_utf8(item) for item in value]
    return value


async def validation_failed(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = []
    for error in exc.errors()[:MAX_ERRORS]:
        shown = {"type": error["type"], "loc": list(error["loc"]), "msg": one_line(str(error["msg"]))}
        if "input" in error:
            shown["input"] = _short(error["input"])
        errors.append(shown)
    return JSONResponse({"detail": errors}, status_code=422)


def _down(service: str, exc: BaseException) -> JSONResponse:
    reason = str(exc).split(" (configured timeouts")[0].split(", Timeout:")[0]
    reason = one_line(reason or type(exc).__name__, 120)
    return JSONResponse({"detail": f"{service} is not answering ({reason}): {START_HINT}"}, status_code=503)


async def mongodb_error(request: Request, exc: pymongo.errors.PyMongoError) -> JSONResponse:
    if isinstance(exc, pymongo.errors.ConnectionFailure) or exc.timeout:
        return _down("MongoDB", exc)
    return JSONResponse({"detail": "MongoDB refused the operation"}, status_code=500)


async def redis_down(request: Request, exc: Exception) -> JSONResponse:
    return _down("Redis", exc)


async def rabbitmq_down(request: Request, exc: BrokerUnavailable) -> JSONResponse:
    if isinstance(exc, BrokerRefused):  # a queue keeps the arguments it was first declared with
        detail = (
            f"RabbitMQ refused to declare a queue ({one_line(str(exc), 300)}): delete the old queue, "
            "then restart the worker (make lab02): see exercise 2.7 in the lesson"
        )
        return JSONResponse({"detail": detail}, status_code=503)
    return _down("RabbitMQ", exc)


async def not_implemented(request: Request, exc: NotImplementedError) -> JSONResponse:
    message = str(exc)
    if message.startswith("Exercise "):  # starter code: say which exercise, not "500"
        return JSONResponse({"detail": message}, status_code=501)
    return JSONResponse({"detail": "Internal Server Error"}, status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_failed)
    app.add_exception_handler(NotImplementedError, not_implemented)
    app.add_exception_handler(pymongo.errors.PyMongoError, mongodb_error)
    app.add_exception_handler(redis.exceptions.ConnectionError, redis_down)
    app.add_exception_handler(redis.exceptions.TimeoutError, redis_down)
    app.add_exception_handler(BrokerUnavailable, rabbitmq_down)


class BodySizeLimit:
    """ASGI middleware: read at most `max_bytes` of a request body, else answer 413 at once.

    The body is read here, before any route or validation sees it, so a huge
    upload costs the server `max_bytes` of memory, never more, whether the
    client announced its size (Content-Length) or streamed it in chunks.
    """

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.max_bytes:
            return await self._too_large(scope, receive, send)
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                return await self._too_large(scope, receive, send)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse({"detail": f"the request body is over {self.max_bytes} bytes"}, status_code=413)
        await response(scope, receive, send)
