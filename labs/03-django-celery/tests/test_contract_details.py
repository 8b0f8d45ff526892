"""Lab 02's newest contract details, held by the Django API too: body limit, Location, query form, errors."""

import json
import os
import uuid

import httpx

from queuelabs.testing import contract

MAX_BODY_BYTES = 256 * 1024  # lab 02's limit (app/core/config.py): the same on both APIs


def test_an_announced_body_over_the_limit_is_413_in_one_line(api):
    big = b'{"name": "x", "description": "' + b"x" * MAX_BODY_BYTES + b'"}'
    reply = httpx.post(f"{api}/api/items", content=big, headers={"Content-Type": "application/json"}, timeout=10)
    assert reply.status_code == 413, reply.text[:200]
    assert reply.json() == {"detail": f"the request body is over {MAX_BODY_BYTES} bytes"}


def test_the_location_is_a_path_never_built_from_the_host_header(api, worker):
    reply = httpx.post(f"{api}/api/async/process", json={"data": "x", "iterations": 1}, timeout=10)
    assert reply.status_code == 202, reply.text[:200]
    assert reply.headers["location"] == f"/api/async/status/{reply.json()['task_id']}"
    forged = httpx.post(
        f"{api}/api/async/process", json={"data": "x", "iterations": 1}, headers={"Host": "evil.example"}, timeout=10
    )
    assert forged.status_code == 400 and "evil.example" not in forged.text, forged.text[:200]  # ALLOWED_HOSTS


def test_welcome_email_accepts_the_walkthrough_query_parameters(api, emails_worker):
    emails_worker.start()
    contract.check_welcome_email_query_parameters(api, bad_input=(400,), missing_says="name")
    schema = httpx.get(f"{api}/api/schema", params={"format": "json"}, timeout=10).json()
    documented = {p["name"] for p in schema["paths"]["/api/send-welcome-email"]["post"]["parameters"]}
    assert documented == {"user_email", "user_name"}, documented


def test_a_failure_names_the_error_but_no_server_address(api, django_ready):
    import redis
    from jobs import services
    from jobs.tasks import process_report

    # A task that failed with a message holding a server address, as a driver's error would.
    task_id = str(uuid.uuid4())
    services.record_intent(task_id, process_report.name, {"data": "x", "iterations": 1}, None)
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    failure = {
        "exc_type": "ServerSelectionTimeoutError",
        "exc_message": ["mongodb.internal:27017: [Errno 111] Connection refused"],
        "exc_module": "pymongo.errors",
    }
    meta = {"status": "FAILURE", "task_id": task_id, "result": failure}
    client.set(process_report.backend.get_key_for_task(task_id), json.dumps(meta), ex=600)
    body = httpx.get(f"{api}/api/async/status/{task_id}", timeout=10).json()
    assert body["status"] == "FAILURE" and body["error"].startswith("ServerSelectionTimeoutError: "), body
    assert "27017" not in body["error"] and "mongodb.internal" not in body["error"], body
