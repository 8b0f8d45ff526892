"""The Celery task: thin, named `domain.action`, and careful about what it retries.

`payments.charge` does some work, charges the flaky payment service, and
stores the result. It may run more than once (a retry, a redelivery after a
crash); services.py makes each of its effects happen once.
"""

from __future__ import annotations

import math
from typing import Any

import pymongo.errors
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init
from celery.utils.log import get_task_logger

from app import services
from app.celery_app import celery_app
from app.core.config import settings
from app.db import TASK_RESULTS, sync_database

logger = get_task_logger(__name__)

# A call to the payment service gives up after DOWNSTREAM_TIMEOUT_SECONDS (a
# hang becomes DownstreamUnavailable, so a retry); the whole task gets a soft
# limit (SoftTimeLimitExceeded is raised inside it: also a retry) and, as a last
# resort, a hard limit (the pool process is killed and replaced). A task killed
# by the hard limit is handed back to RabbitMQ (acks_on_timeout False, with the
# acks_late of 4.3), so it runs again instead of ending as a FAILURE.
DOWNSTREAM_TIMEOUT: float | None = settings.DOWNSTREAM_TIMEOUT_SECONDS
TIME_LIMITS = {
    "soft_time_limit": settings.SOFT_TIME_LIMIT_SECONDS,
    "time_limit": settings.HARD_TIME_LIMIT_SECONDS,
    "acks_on_timeout": False,
}
HANG_ERRORS: tuple[type[BaseException], ...] = (SoftTimeLimitExceeded,)

# MongoDB down for a while (a failover, a restart): the write may work in a
# moment, so it is a retry, not a failure.
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (pymongo.errors.ConnectionFailure,)

# Only these are retried. A bug (TypeError...) or a refusal (4xx) fails at once.
RETRY_ON = (services.DownstreamUnavailable, *HANG_ERRORS, *OUTAGE_ERRORS)


@worker_process_init.connect
def _indexes(**_: Any) -> None:
    try:
        services.ensure_indexes(sync_database())
    except pymongo.errors.PyMongoError as exc:  # MongoDB down at start-up: the next process tries again
        logger.warning("indexes not created: %s", exc)


@celery_app.task(name="payments.charge", bind=True, max_retries=settings.MAX_RETRIES, **TIME_LIMITS)
def charge(self, data: str, iterations: int) -> dict[str, Any]:
    """Process `data`, charge `iterations` units for it, store the result once."""
    db, task_id, retries = sync_database(), self.request.id, self.request.retries
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    services.record_attempt(db, task_id, retries=retries, redelivered=redelivered, worker=self.request.hostname)
    if redelivered:
        logger.warning("task %s redelivered (attempt %d): its last run died unacknowledged", task_id, retries + 1)
    try:
        work = services.process_data(data, iterations, step_seconds=settings.TASK_STEP_SECONDS)
        receipt = services.charge(settings.DOWNSTREAM_URL, task_id, iterations, timeout=DOWNSTREAM_TIMEOUT)
        result = {**work, "charge_id": receipt["charge_id"], "amount": receipt["amount"]}
        services.store_result(db[TASK_RESULTS], task_id, result)
    except RETRY_ON as exc:
        # One retry mechanism, by hand: no autoretry_for on top (that retries twice over).
        error = f"{type(exc).__name__}: {exc}"
        if retries >= self.max_retries:
            services.record_outcome(db, task_id, retries=retries, outcome="gave up", error=error)
            raise  # failed for good: rejected, so RabbitMQ dead-letters the message
        delay = services.backoff_delay(retries, base=settings.RETRY_BASE_SECONDS, cap=settings.RETRY_CAP_SECONDS)
        services.record_outcome(db, task_id, retries=retries, outcome="retry", error=error, retry_in=round(delay, 3))
        # Lab 05: on quorum queues RabbitMQ keeps the countdown (native delayed delivery), in
        # whole seconds; Celery 5.7 turns 0.4 s into int(0.4) == 0 and raises "countdown must
        # be a positive number". So the jittered delay is rounded up to a whole second.
        raise self.retry(exc=exc, countdown=math.ceil(delay)) from None
    except Exception as exc:
        services.record_outcome(db, task_id, retries=retries, outcome="failed", error=f"{type(exc).__name__}: {exc}")
        raise
    services.record_outcome(db, task_id, retries=retries, outcome="success")
    return result
