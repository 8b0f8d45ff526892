"""Exercise 2.4: a task that fails is reported as FAILURE with its error."""

import os
import time
import uuid

import pytest
import redis

from queuelabs.testing import contract
from queuelabs.testing.checks import check_response


@pytest.mark.exercise("2.4")
@pytest.mark.provokes("ValueError: iterations must be")
def test_failure_is_reported_with_the_error(api, worker):
    from app import services
    from app.tasks import process_report

    task_id = str(uuid.uuid4())
    # As the submit endpoint would: record the id, then publish. iterations=0
    # gets past no API (422), but here it reaches the worker, which refuses it.
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    client.set(services.submission_key(task_id), process_report.name, ex=600)
    process_report.apply_async(kwargs={"data": "x", "iterations": 0}, task_id=task_id)
    deadline = time.monotonic() + 15
    with contract.client(api) as http:
        while True:
            body = check_response(http.get(f"/api/async/status/{task_id}"), expected=200).json()
            if body["status"] in ("FAILURE", "SUCCESS") or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    assert body["status"] == "FAILURE", f"expected FAILURE, got {body}"
    assert "ValueError" in (body.get("error") or "") and "iterations" in body["error"], (
        f"a FAILURE must carry the error (type and message): {body}"
    )
    assert body.get("result") is None, f"a FAILURE has no result: {body}"
