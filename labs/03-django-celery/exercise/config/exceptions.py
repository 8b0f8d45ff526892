"""Short, honest error answers: one line of JSON, never a stack trace or an HTML page.

DRF calls `exception_handler` for every exception a view raises. Its own
exceptions (validation, 404...) keep their status; starter code that is not
written yet is a 501 naming the exercise; a server that is down is a 503
naming it and the command that starts it. config/urls.py answers Django's own
404s and 500s (outside DRF views) in JSON too.
"""

from __future__ import annotations

import re

import amqp.exceptions
import kombu.exceptions
import pymongo.errors
import redis.exceptions
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import JsonResponse
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

START_HINT = "start the stack with: make up"
# A ceiling on every request body (lab 02's too): above it, 413 before anything reads the body.
MAX_BODY_BYTES = 256 * 1024

# host:port pairs and URLs say where our servers are: not the caller's business.
_WHERE = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+|\b[\w.-]+:\d{2,5}\b|\b\d{1,3}(?:\.\d{1,3}){3}\b", re.IGNORECASE)


def one_line(text: str, limit: int = 200) -> str:
    """The first line of `text`, without server addresses, at most `limit` characters."""
    line = _WHERE.sub("<server>", (text.splitlines() or [""])[0])
    line = line.encode("utf-8", "backslashreplace").decode("utf-8")  # a lone surrogate cannot be sent
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _down(service: str, exc: BaseException) -> Response:
    cause = exc.__cause__
    if isinstance(cause, TimeoutError) or isinstance(exc, TimeoutError):
        reason = "no answer in time"  # a hung server: the socket time-out fired
    else:
        reason = (str(exc) or str(cause or "")).splitlines()[0] if (str(exc) or cause) else type(exc).__name__
    reason = one_line(reason.split(" (configured timeouts")[0].split(", Timeout:")[0], 160)
    return Response({"detail": f"{service} is not answering ({reason}): {START_HINT}"}, status=503)


def _service_down(exc: BaseException) -> Response | None:
    from jobs.publisher import BrokerUnavailable

    if isinstance(exc, BrokerUnavailable) and not isinstance(exc.__cause__, amqp.exceptions.PreconditionFailed):
        return _down("RabbitMQ", exc)
    exc = exc.__cause__ if isinstance(exc, BrokerUnavailable) else exc
    if isinstance(exc, pymongo.errors.ConnectionFailure | pymongo.errors.ServerSelectionTimeoutError):
        return _down("MongoDB", exc)
    if isinstance(exc, DatabaseError) and isinstance(exc.__cause__, pymongo.errors.ConnectionFailure):
        return _down("MongoDB", exc.__cause__)
    if isinstance(exc, DatabaseError) and _transient(exc.__cause__):
        # Two transactions wrote the same thing at once (first writes to a new collection):
        # MongoDB's advice is to run it again, and so is ours.
        return Response({"detail": "MongoDB refused a conflicting write: send the request again"}, status=503)
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return _down("Redis", exc)
    if isinstance(exc, amqp.exceptions.PreconditionFailed):
        reason = one_line(str(exc))
        detail = (
            f"RabbitMQ refused to declare a queue ({reason}): delete the old queue, see the lesson's Troubleshooting"
        )
        return Response({"detail": detail}, status=503)
    if isinstance(exc, kombu.exceptions.OperationalError | amqp.exceptions.ConnectionError | TimeoutError):
        return _down("RabbitMQ", exc)
    return None


def _transient(error: BaseException | None) -> bool:
    return isinstance(error, pymongo.errors.PyMongoError) and error.has_error_label("TransientTransactionError")


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, RequestDataTooBig):  # DATA_UPLOAD_MAX_MEMORY_SIZE, for a body that did not announce its size
        return Response({"detail": f"the request body is over {MAX_BODY_BYTES} bytes"}, status=413)
    if isinstance(exc, NotImplementedError) and str(exc).startswith("Exercise "):
        return Response({"detail": str(exc)}, status=status.HTTP_501_NOT_IMPLEMENTED)
    down = _service_down(exc)
    if down is not None:
        return down
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, ValidationError):
        # Every error is {"detail": ...}: DRF's field errors go under it.
        response.data = {"detail": response.data}
    return response  # None: Django's handler500 answers (config/urls.py)


def not_found(request, exception=None) -> JsonResponse:
    return JsonResponse({"detail": f"no route {request.path}: see /docs"}, status=404)


def server_error(request) -> JsonResponse:
    return JsonResponse({"detail": "Internal Server Error: see the API's log"}, status=500)


def bad_request(request, exception=None) -> JsonResponse:
    return JsonResponse({"detail": "Bad Request (is the Host header in DJANGO_ALLOWED_HOSTS?)"}, status=400)
