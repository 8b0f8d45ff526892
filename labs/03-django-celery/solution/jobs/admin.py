"""The Django admin (/admin/): browse the items, the submissions and the task results.

Create a login first: `python manage.py createsuperuser` (see the lesson).
"""

from django.contrib import admin

from jobs.models import Digest, Item, Submission, TaskResult

# BEGIN EXERCISE 3.7


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ["name", "description", "created_at"]
    search_fields = ["name"]


@admin.register(TaskResult)
class TaskResultAdmin(admin.ModelAdmin):
    list_display = ["task_id", "task_name", "deliveries", "stored_at"]
    list_filter = ["task_name"]
    readonly_fields = ["task_id", "task_name", "result", "stored_at", "deliveries"]


# STARTER
# pass  # register Item and TaskResult here
# END EXERCISE 3.7


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ["task_id", "task_name", "priority", "submitted_at"]
    readonly_fields = ["task_id", "task_name", "arguments", "priority", "submitted_at"]


@admin.register(Digest)
class DigestAdmin(admin.ModelAdmin):
    list_display = ["created_at", "finished", "queue"]
