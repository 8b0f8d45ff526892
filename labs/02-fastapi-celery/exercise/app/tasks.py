"""The Celery tasks, named `domain.action`: JSON-safe arguments in, services.py does the work."""

from __future__ import annotations

from typing import Any

import pymongo.errors
from celery.utils.log import get_task_logger

from app import services
from app.celery_app import celery_app
from app.core.config import settings
from app.db import OUTBOX, TASK_RESULTS, sync_database

logger = get_task_logger(__name__)


# A result that cannot be stored because MongoDB is down or hung is retried, not
# lost: the task runs again (the first stored result wins), up to 5 times, 2, 4,
# 8, 16 and 32 s after each failure. Only that error: a bug still fails at once.
@celery_app.task(
    name="reports.process",
    bind=True,
    autoretry_for=(pymongo.errors.ConnectionFailure,),
    retry_backoff=2,
    retry_backoff_max=32,
    retry_jitter=False,
    max_retries=5,
)
def process_report(self, data: str, iterations: int) -> dict[str, Any]:
    """The heavy task: process `data`, report PROGRESS after each iteration, store the result once."""

    # TODO Exercise 2.2: Report progress from the heavy task. In process_report: call
    # services.process_data(data, iterations, step_seconds=settings.TASK_STEP_SECONDS,
    # on_progress=...) with a callback that publishes each progress dict as the PROGRESS
    # state; then store the result with
    # services.store_result(sync_database()[TASK_RESULTS], self.request.id, result) and
    # return it.
    # `make hint EX=2.2` shows more hints; `make check LAB=02` grades your work.
    raise NotImplementedError("Exercise 2.2 is not done yet: Report progress from the heavy task")


# TODO Exercise 2.6: Your own task: send a welcome email. Two places. In app/tasks.py: a
# bound task named "emails.send_welcome" that calls
# services.send_welcome_email(sync_database()[OUTBOX], self.request.id, email, name,
# seconds=settings.EMAIL_SECONDS) and retries ONLY services.EmailServiceUnavailable,
# with backoff and jitter. In app/api/routes/email.py: queue it with enqueue(...) like
# submit_process does.
# `make hint EX=2.6` shows more hints; `make check LAB=02` grades your work.
@celery_app.task
def send_welcome_email(email: str, name: str) -> dict:
    raise NotImplementedError("Exercise 2.6 is not done yet: write the welcome email task")
