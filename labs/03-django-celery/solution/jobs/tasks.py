"""The Celery tasks: thin wrappers named `domain.action`, found by autodiscover_tasks().

`@shared_task` does not name an app: the task belongs to whichever app is
current, which is config/celery_app.py's once config/__init__.py imports it.
A task takes JSON-safe arguments, calls services.py, and reports back.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.utils.log import get_task_logger
from django.conf import settings

from jobs import services

logger = get_task_logger(__name__)


# A result that cannot be stored because MongoDB is down or hung is retried, not
# lost: the task runs again (the first stored result wins), up to 5 times, 2, 4,
# 8, 16 and 32 s after each failure: an outage under a minute costs time, not the
# result. Only that error: a bug still fails at once.
@shared_task(
    name="reports.process",
    bind=True,
    autoretry_for=(services.StorageUnavailable,),
    retry_backoff=2,
    retry_backoff_max=32,
    retry_jitter=False,
    max_retries=5,
)
def process_report(self, data: str, iterations: int) -> dict[str, Any]:
    """The heavy task: process `data`, report PROGRESS after each iteration, store the result once."""

    def report(progress: dict[str, Any]) -> None:
        # Written to the result backend (Redis); GET /api/async/status reads it.
        self.update_state(state="PROGRESS", meta=progress)

    result = services.process_data(data, iterations, step_seconds=settings.TASK_STEP_SECONDS, on_progress=report)
    services.store_result(self.request.id, self.name, result)
    return result


# Retry only what is worth retrying, with a growing, jittered delay; a bug fails at once.
@shared_task(
    name="emails.send_welcome",
    bind=True,
    autoretry_for=(services.EmailServiceUnavailable, services.StorageUnavailable),
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=3,
)
def send_welcome_email(self, email: str, name: str) -> dict[str, Any]:
    logger.info("Sending a welcome email to %s", email)
    result = services.send_welcome_email(email, name, seconds=settings.EMAIL_SECONDS)
    services.store_result(self.request.id, self.name, result)
    return result


@shared_task(name="reports.hourly_digest", bind=True)
def hourly_digest(self) -> dict[str, Any]:
    """Queued by `celery beat` (CELERY_BEAT_SCHEDULE), on the digests queue."""
    queue = (self.request.delivery_info or {}).get("routing_key", "")
    digest = services.make_digest(queue=queue)
    logger.info("Digest: %s task(s) finished since %s", digest.finished, digest.since)
    return {"digest_id": str(digest.pk), "finished": digest.finished, "by_task": digest.by_task}
