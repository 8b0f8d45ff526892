"""The Celery task: thin, named `domain.action`, and careful about what it retries.

`payments.charge` does some work, charges the flaky payment service, and
stores the result. It may run more than once (a retry, a redelivery after a
crash); services.py makes each of its effects happen once.
"""

from __future__ import annotations

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

# TODO Exercise 4.2: Time limits: a hanging payment service becomes a retry, not a stuck
# worker. DOWNSTREAM_TIMEOUT = None waits for ever on a hung service, and the task has
# no time limit. Give the HTTP call a timeout (settings.DOWNSTREAM_TIMEOUT_SECONDS), the
# task a soft and a hard time limit, and make the soft limit's exception a retry.
# `make hint EX=4.2` shows more hints; `make check LAB=04` grades your work.
DOWNSTREAM_TIMEOUT = None  # wait as long as the payment service takes
TIME_LIMITS: dict = {}
HANG_ERRORS: tuple = ()

# TODO Exercise 4.7: Publisher confirms and outages: Redis or MongoDB away loses no
# accepted task. Two places. In celery_app.py: publisher confirms (so a 202 means
# RabbitMQ has the message) and a result backend that is retried while Redis is down
# (instead of dropping the result and acknowledging the message). In tasks.py: a MongoDB
# that does not answer is a reason to retry.
# `make hint EX=4.7` shows more hints; `make check LAB=04` grades your work.
OUTAGE_ERRORS: tuple = ()

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
    # TODO Exercise 4.1: Retry only what is transient, with capped exponential backoff
    # and full jitter. Two places. services.backoff_delay returns a fixed 60 s: make it
    # grow (base * 2**retries), cap it, and spread it (full jitter). In tasks.charge,
    # catch only RETRY_ON (transient errors) and retry those with self.retry(exc=exc,
    # countdown=backoff_delay(...)); let any other exception fail at once; after
    # max_retries, re-raise.
    # `make hint EX=4.1` shows more hints; `make check LAB=04` grades your work.
    try:
        work = services.process_data(data, iterations, step_seconds=settings.TASK_STEP_SECONDS)
        receipt = services.charge(settings.DOWNSTREAM_URL, task_id, iterations, timeout=DOWNSTREAM_TIMEOUT)
        result = {**work, "charge_id": receipt["charge_id"], "amount": receipt["amount"]}
        services.store_result(db[TASK_RESULTS], task_id, result)
    except Exception as exc:  # the seed: retry everything, bugs included
        delay = services.backoff_delay(retries, base=settings.RETRY_BASE_SECONDS, cap=settings.RETRY_CAP_SECONDS)
        raise self.retry(exc=exc, countdown=delay) from None
    services.record_outcome(db, task_id, retries=retries, outcome="success")
    return result
