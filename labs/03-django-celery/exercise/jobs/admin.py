"""The Django admin (/admin/): browse the items, the submissions and the task results.

Create a login first: `python manage.py createsuperuser` (see the lesson).
"""

from django.contrib import admin

from jobs.models import Digest, Item, Submission, TaskResult

# TODO Exercise 3.7: The admin: items and task results. Nothing is registered with the
# admin: register Item and TaskResult, so a staff user sees them at /admin/.
# `make hint EX=3.7` shows more hints; `make check LAB=03` grades your work.
pass  # register Item and TaskResult here


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ["task_id", "task_name", "priority", "submitted_at"]
    readonly_fields = ["task_id", "task_name", "arguments", "priority", "submitted_at"]


@admin.register(Digest)
class DigestAdmin(admin.ModelAdmin):
    list_display = ["created_at", "finished", "queue"]
