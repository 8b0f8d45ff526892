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

    # BEGIN EXERCISE 2.2
    def report(progress: dict[str, Any]) -> None:
        # Written to the result backend (Redis); GET /api/async/status reads it.
        self.update_state(state="PROGRESS", meta=progress)

    result = services.process_data(data, iterations, step_seconds=settings.TASK_STEP_SECONDS, on_progress=report)
    services.store_result(sync_database()[TASK_RESULTS], self.request.id, result)
    return result  # JSON-safe: stored in Redis as the task's result
    # END EXERCISE 2.2


# BEGIN EXERCISE 2.6
# Retry only what is worth retrying (a mail server that is down for a moment),
# with a growing, jittered delay; let Celery do it (no manual self.retry on
# top, which would retry twice over). A bug (TypeError...) fails at once.
@celery_app.task(
    name="emails.send_welcome",
    bind=True,
    autoretry_for=(services.EmailServiceUnavailable,),
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=3,
)
def send_welcome_email(self, email: str, name: str) -> dict[str, Any]:
    logger.info("Sending a welcome email to %s", email)
    outbox = sync_database()[OUTBOX]
    return services.send_welcome_email(outbox, self.request.id, email, name, seconds=settings.EMAIL_SECONDS)


# STARTER
# @celery_app.task
# def send_welcome_email(email: str, name: str) -> dict:
#     raise NotImplementedError("Exercise 2.6 is not done yet: write the welcome email task")
# END EXERCISE 2.6
