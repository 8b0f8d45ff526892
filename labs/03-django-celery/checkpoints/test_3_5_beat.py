"""Exercise 3.5: a real `celery beat` queues the digest on time, on its own queue, and a worker runs it."""

import re

import httpx
import pytest

from queuelabs.testing.checks import patience, wait_for
from queuelabs.waiting import WaitTimeout

UNREGISTERED = re.compile(r"Received unregistered task of type '([^']+)'")
NOT_APPLIED = re.compile(r"Couldn't apply scheduled task [^\n]*")


def latest(api):
    response = httpx.get(f"{api}/api/digests/latest", timeout=patience(5))
    return response.json() if response.status_code == 200 else None


@pytest.mark.exercise("3.5")
def test_beat_queues_the_digest_periodically_on_the_digests_queue(api, worker, beat):
    # The checkpoints set DIGEST_INTERVAL_SECONDS=1: one digest a second.
    try:
        first = wait_for(
            lambda: latest(api),
            timeout=10,
            interval=0.3,
            what="a digest at /api/digests/latest (is the task in CELERY_BEAT_SCHEDULE?)",
        )
    except WaitTimeout:
        explain_no_digest(worker.proc.log_path.read_text(errors="replace"), beat.log_path.read_text(errors="replace"))
        raise
    assert first.get("queue") == "digests", f"the digest ran from the queue {first.get('queue')!r}, not 'digests'"
    second = wait_for(
        lambda: (d := latest(api)) and d["id"] != first["id"] and d,
        timeout=10,
        interval=0.3,
        what="a second digest: beat should queue it every DIGEST_INTERVAL_SECONDS",
    )
    assert second["created_at"] > first["created_at"], f"digests out of order: {first} then {second}"


def explain_no_digest(worker_log: str, beat_log: str) -> None:
    """No digest came: say why in one line when the worker's or beat's log shows it."""
    if unknown := UNREGISTERED.search(worker_log):
        raise AssertionError(
            f"beat queued {unknown.group(1)!r}, a task no worker knows: CELERY_BEAT_SCHEDULE's "
            "task is 'reports.hourly_digest' (config/settings.py)"
        )
    if refused := NOT_APPLIED.search(beat_log):
        raise AssertionError(f"beat: {refused.group(0)[:200]} (CELERY_BEAT_SCHEDULE in config/settings.py)")
