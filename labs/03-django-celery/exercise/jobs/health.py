"""GET /health: is every part of the system answering? Fast, even when one hangs.

The four checks run at the same time in a small thread pool, and the view
waits for them at most HEALTH_TIMEOUT_SECONDS: a check that has not answered
by then counts as down (its thread finishes, or times out, on its own).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, wait

from django.conf import settings
from django.db import connection
from drf_spectacular.utils import extend_schema
from kombu import Connection
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.exceptions import one_line
from jobs.serializers import HealthSerializer

_checks = ThreadPoolExecutor(max_workers=8, thread_name_prefix="health")


def check_mongodb() -> None:
    connection.ensure_connection()
    connection.connection.admin.command("ping")


def check_redis() -> None:
    from config.celery_app import app

    app.backend.client.ping()  # the result backend's own client: the Redis the tasks report to


def check_rabbitmq() -> None:
    with Connection(settings.CELERY_BROKER_URL, connect_timeout=settings.HEALTH_TIMEOUT_SECONDS) as conn:
        conn.connect()


def check_worker() -> None:
    from config.celery_app import app

    # ping() does NOT raise when nobody answers: it waits and returns []. limit=1
    # returns as soon as one worker replies.
    timeout = settings.HEALTH_TIMEOUT_SECONDS * 0.6
    if not app.control.ping(timeout=timeout, limit=1):
        raise LookupError(f"no worker answered a ping within {timeout:g} s")


CHECKS = {"mongodb": check_mongodb, "redis": check_redis, "rabbitmq": check_rabbitmq, "worker": check_worker}


def _outcome(future, limit: float) -> str:
    if not future.done():
        return f"down: no answer within {limit:g} s"
    exc = future.exception()
    if exc is None:
        return "ok"
    return f"down: {one_line(str(exc) or type(exc).__name__)}"  # without server addresses


class Health(APIView):
    @extend_schema(responses={200: HealthSerializer, 503: HealthSerializer})
    def get(self, request: Request) -> Response:
        limit = settings.HEALTH_TIMEOUT_SECONDS
        futures = {name: _checks.submit(check) for name, check in CHECKS.items()}
        wait(futures.values(), timeout=limit)
        services_state = {name: _outcome(future, limit) for name, future in futures.items()}
        down = [name for name, state in services_state.items() if state != "ok"]
        body = {"status": "degraded" if down else "healthy", "services": services_state, "down": down}
        return Response(body, status=503 if down else 200)
