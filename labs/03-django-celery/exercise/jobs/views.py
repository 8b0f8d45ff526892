"""The API's views: DRF, synchronous, one request per gunicorn thread.

Django views here are plain `def` functions (no event loop): a blocking call
(the ORM, Redis, publishing) holds one thread of one gunicorn worker, not the
whole server. That is why every blocking call still has a time limit: a hung
server would otherwise hold threads until none is left.
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from bson import ObjectId
from celery import Task
from celery.result import AsyncResult
from django.conf import settings
from django.urls import reverse
from django_mongodb_backend import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

from config.exceptions import one_line
from jobs import services
from jobs.models import Digest, Item
from jobs.pagination import SkipLimitPagination
from jobs.publisher import BrokerUnavailable, publish
from jobs.serializers import (
    DigestSerializer,
    ItemSerializer,
    ProcessRequestSerializer,
    TaskAcceptedSerializer,
    TaskStatusSerializer,
    WelcomeEmailSerializer,
)
from jobs.tasks import process_report, send_welcome_email

# --- items: ordinary, fast CRUD ------------------------------------------------------


class ItemViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    """GET and POST /api/items, GET /api/items/{id}: DRF's generic list, create and retrieve.

    The router (jobs/urls.py) makes the routes; SkipLimitPagination reads the
    contract's ?skip=&limit=. No update or delete: the contract has none.
    """

    serializer_class = ItemSerializer
    pagination_class = SkipLimitPagination

    def get_queryset(self):
        # Newest first. Built per request, not when the module is imported: the
        # model's fields are exercise 3.2, and the URLs must load before it is done.
        return Item.objects.order_by("-created_at")

    def get_object(self) -> Item:
        # A malformed id cannot name an item: 404, like an unknown one (ObjectId() would raise).
        item_id = self.kwargs["pk"]
        item = self.get_queryset().filter(pk=ObjectId(item_id)).first() if ObjectId.is_valid(item_id) else None
        if item is None:
            raise NotFound(f"no item with id {item_id}")
        return item

    def perform_create(self, serializer: ItemSerializer) -> None:
        # MongoDB keeps datetimes to the millisecond: answer what was stored, not
        # the microseconds Python had before the write.
        serializer.save().refresh_from_db()


# --- background work -----------------------------------------------------------------


def enqueue(task: Task, *, kwargs: dict[str, Any], priority: int | None = None, what: str) -> Response:
    """Persist the intent, publish once it is committed, answer 202 + Location at once."""
    # TODO Exercise 3.3: Submit: record the intent, publish on commit, 202. In enqueue:
    # make a task id, write the intent (services.record_intent) inside a MongoDB
    # transaction, publish the task only once that transaction has committed
    # (jobs.publisher.publish, bounded in time), remove the intent when RabbitMQ refuses
    # (services.forget_intent), and answer 202 with a Location header pointing at the
    # status URL, as a path.
    # `make hint EX=3.3` shows more hints; `make check LAB=03` grades your work.
    raise NotImplementedError("Exercise 3.3 is not done yet: Submit: record the intent, publish on commit, 202")


class ProcessSubmit(APIView):
    @extend_schema(request=ProcessRequestSerializer, responses={202: TaskAcceptedSerializer, 503: None})
    def post(self, request: Request) -> Response:
        """Queue the heavy task. Answers in milliseconds, however long the work takes."""
        body = ProcessRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data, iterations = body.validated_data["data"], body.validated_data["iterations"]
        return enqueue(
            process_report,
            kwargs={"data": data, "iterations": iterations},
            priority=settings.PRIORITY_LEVELS[body.validated_data["priority"]],
            what=f"Processing of {iterations} iterations",
        )


def describe_failure(error: Any) -> str:
    """ "ValueError: iterations must be ..." from the stored exception, in one line, without server addresses."""
    message = str(error).split(" (configured timeouts")[0].split(", full error:")[0]  # drivers' long tails
    return one_line(f"{type(error).__name__}: {message or 'no message: the worker log has the whole error'}")


class TaskStatusView(APIView):
    @extend_schema(responses={200: TaskStatusSerializer, 404: None})
    def get(self, request: Request, task_id: str) -> Response:
        """PENDING, STARTED, PROGRESS (with `progress`), SUCCESS (with `result`) or FAILURE (with `error`)."""
        # TODO Exercise 3.4: Report a task's status, and 404 for unknown ids. In
        # TaskStatusView.get: answer 404 when services.was_submitted(task_id) is false
        # (Celery says PENDING for ANY id); otherwise read the task's state and info in
        # ONE read of the result backend and answer with progress, result or error by
        # state.
        # `make hint EX=3.4` shows more hints; `make check LAB=03` grades your work.
        raise NotImplementedError("Exercise 3.4 is not done yet: Report a task's status, and 404 for unknown ids")


class WelcomeEmail(APIView):
    @extend_schema(
        request=WelcomeEmailSerializer,
        parameters=[
            OpenApiParameter("user_email", str, description="instead of the body: the address"),
            OpenApiParameter("user_name", str, description="instead of the body: the name"),
        ],
        responses={202: TaskAcceptedSerializer, 503: None},
    )
    def post(self, request: Request) -> Response:
        """Queue a welcome email: a JSON body {email, name}, or ?user_email=...&user_name=..."""
        params = request.query_params
        if "user_email" in params or "user_name" in params:
            given = {"email": params.get("user_email"), "name": params.get("user_name")}
        else:
            given = request.data
        body = WelcomeEmailSerializer(data=given)
        body.is_valid(raise_exception=True)
        email, name = body.validated_data["email"], body.validated_data["name"]
        return enqueue(send_welcome_email, kwargs={"email": email, "name": name}, what=f"Welcome email to {email}")


class LatestDigest(APIView):
    @extend_schema(responses={200: DigestSerializer, 404: None})
    def get(self, request: Request) -> Response:
        """The newest digest written by the periodic task (queued by celery beat)."""
        digest = Digest.objects.order_by("-created_at").first()
        if digest is None:
            raise NotFound("no digest yet: is celery beat running? (make lab03 starts it)")
        return Response(DigestSerializer(digest).data)
