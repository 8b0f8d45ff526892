"""The web plumbing the FastAPI labs share, none of it a lesson: how trouble is answered, in one line.

`install(app, max_body_bytes=..., instance_name=...)` gives an app:
- 413 for a request body over `max_body_bytes`, checked before anything reads it;
- 422 for input that does not fit, each offending input cut short (an error
  answer never echoes megabytes back) and safe to encode (lone surrogates);
- 501 for starter code that is not written yet ("Exercise 2.3 is not done yet");
- an `X-Instance` header on every answer: which replica answered (`make scale`).

`service_down("Redis", exc)` is the one-line 503 naming a server that did not
answer, `one_line(text)` the line any error message shows (no server
addresses, no second line), `describe_failure(exc)` a task's stored error in
that shape, and `health_of(check, timeout)` one line of GET /health. Each lab's `app/api/errors.py` says which of its
errors mean which server is down.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import socket
from collections.abc import Awaitable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # NaN or inf: no JSON answer can carry it as a number
    if isinstance(value, bool | int | float) or value is None:
        return value
    text = json.dumps(value, default=str, ensure_ascii=True)  # ASCII: lone surrogates become \ud800
    shown = json.loads(text, parse_constant=str)  # NaN and Infinity shown as strings
    return _utf8(shown) if len(text) <= MAX_ECHO else f"{text[: MAX_ECHO - 1]}…"


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


def describe_failure(error: Any) -> str:
    """ "ValueError: iterations must be ..." from the exception Celery stored for a task, in one line."""
    message = str(error).split(" (configured timeouts")[0].split(", full error:")[0]  # drivers' long tails
    # Some exceptions carry no message (a bare DatabaseError): say where the rest of the story is.
    return one_line(f"{type(error).__name__}: {message or 'no message: the worker log has the whole error'}")


async def health_of(check: Awaitable[object], timeout: float) -> str:
    """ "ok", or "down: <why>" in one line when `check` fails or takes longer than `timeout` (for GET /health)."""
    try:
        await asyncio.wait_for(check, timeout)
        return "ok"
    except TimeoutError:
        return f"down: no answer within {timeout:g} s"
    except Exception as exc:  # any failure of a probe means "down"
        return f"down: {one_line(str(exc) or type(exc).__name__)}"


def service_down(service: str, exc: BaseException) -> JSONResponse:
    """503: `service` did not answer in time (or refused), in one line, with the command that starts it."""
    reason = str(exc).split(" (configured timeouts")[0].split(", Timeout:")[0]  # drivers' long tails
    reason = one_line(reason or type(exc).__name__, 120)
    return JSONResponse({"detail": f"{service} is not answering ({reason}): {START_HINT}"}, status_code=503)


async def not_implemented(request: Request, exc: NotImplementedError) -> JSONResponse:
    message = str(exc)
    if message.startswith("Exercise "):  # starter code: say which exercise, not "500"
        return JSONResponse({"detail": message}, status_code=501)
    return JSONResponse({"detail": "Internal Server Error"}, status_code=500)


def install(app: FastAPI, *, max_body_bytes: int, instance_name: str = "") -> None:
    app.add_exception_handler(RequestValidationError, validation_failed)
    app.add_exception_handler(NotImplementedError, not_implemented)
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    # Added last, so it runs first: every answer is named, the 413s above included.
    app.add_middleware(InstanceHeader, name=instance_name)


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


class InstanceHeader:
    """`X-Instance: <name>` on every answer; the name is INSTANCE_NAME (the scale runner sets it),
    else the hostname and the port the server listens on. A pure ASGI middleware: one header added."""

    def __init__(self, app: ASGIApp, name: str = ""):
        self.app, self.name = app, name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        name = self.name or f"{socket.gethostname()}:{(scope.get('server') or ('', '?'))[1]}"

        async def send_named(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("X-Instance", name)
            await send(message)

        await self.app(scope, receive, send_named)
