"""The documents this app keeps in MongoDB, as Django models.

On django-mongodb-backend a model is a collection and a row is a document; the
primary key is MongoDB's `_id`, an ObjectId (DEFAULT_AUTO_FIELD), not an
integer. DateTimeFields keep milliseconds only (BSON dates).
"""

from __future__ import annotations

from django.db import models


class Item(models.Model):
    """Plain synchronous CRUD: no queue, a database round trip takes milliseconds."""

    # BEGIN EXERCISE 3.2
    name = models.CharField(max_length=200)
    description = models.TextField(max_length=2000, null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]  # newest first, as GET /api/items promises

    # STARTER
    # name = models.CharField(max_length=200)
    # END EXERCISE 3.2

    def __str__(self) -> str:
        return self.name


class Submission(models.Model):
    """The intent: "this task was asked for", written before the task is published."""

    task_id = models.CharField(primary_key=True, max_length=64, db_column="_id")  # MongoDB keeps it unique
    task_name = models.CharField(max_length=100)
    arguments = models.JSONField(default=dict)
    priority = models.IntegerField(null=True, blank=True)
    submitted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-submitted_at"]

    def __str__(self) -> str:
        return f"{self.task_name} {self.task_id}"


class TaskResult(models.Model):
    """A finished task's result, stored once per task id by the worker (services.store_result)."""

    task_id = models.CharField(primary_key=True, max_length=64, db_column="_id")  # MongoDB keeps it unique
    task_name = models.CharField(max_length=100)
    result = models.JSONField(default=dict)
    stored_at = models.DateTimeField(auto_now_add=True)
    deliveries = models.IntegerField(default=1)

    class Meta:
        ordering = ["-stored_at"]

    def __str__(self) -> str:
        return f"{self.task_name} {self.task_id}"


class Digest(models.Model):
    """What the periodic digest found: the tasks finished since the previous one."""

    created_at = models.DateTimeField(auto_now_add=True)
    since = models.DateTimeField(null=True, blank=True)
    finished = models.IntegerField(default=0)
    by_task = models.JSONField(default=dict)
    queue = models.CharField(max_length=50, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"digest of {self.finished} task(s) at {self.created_at:%Y-%m-%d %H:%M:%S}"
