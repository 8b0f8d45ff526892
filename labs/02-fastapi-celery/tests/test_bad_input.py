"""Bad input is a short 4xx, never a 500: the cases found by trying, and the limits that bound the work."""

import json
import uuid

import httpx
import pytest


def post_raw(api: str, path: str, raw: str, **kw) -> httpx.Response:
    """POST a JSON text as typed (so "\\ud800" stays a JSON escape: a lone surrogate once parsed)."""
    headers = {"Content-Type": "application/json", **kw.pop("headers", {})}
    return httpx.post(f"{api}{path}", content=raw.encode(), headers=headers, timeout=10, **kw)


@pytest.mark.parametrize(
    "path, raw",
    [
        ("/api/items", '{"name": "x", "metadata": {"a\\u0000b": 1}}'),  # NUL in a key
        ("/api/items", '{"name": "x", "metadata": {"$where": 1}}'),  # an operator-like key
        ("/api/items", '{"name": "\\ud800"}'),  # lone surrogate in a name
        ("/api/items", '{"name": "x", "metadata": {"\\ud800": 1}}'),  # ... in a key
        ("/api/items", '{"name": "x", "metadata": {"k": ["\\udfff"]}}'),  # ... in a value
        ("/api/async/process", '{"data": "\\ud800", "iterations": 1}'),  # ... in the task data
        ("/api/send-welcome-email", '{"email": "a@b.io", "name": "\\ud800"}'),
        ("/api/async/process", '{"data": "' + "x" * 10_000 + '", "iterations": 1000}'),  # a 10 MB result
    ],
)
def test_input_that_cannot_be_stored_is_422_in_one_line(api, path, raw):
    reply = post_raw(api, path, raw)
    assert reply.status_code == 422, reply.text[:300]
    for error in reply.json()["detail"]:
        assert "\n" not in error["msg"], error


def test_metadata_over_the_limit_is_422_and_the_answer_stays_small(api):
    from app.schemas import MAX_METADATA_BYTES

    reply = httpx.post(
        f"{api}/api/items", json={"name": "x", "metadata": {"blob": "x" * MAX_METADATA_BYTES}}, timeout=10
    )
    assert reply.status_code == 422, reply.text[:300]
    assert len(reply.content) < 2_000, f"a 422 echoed {len(reply.content)} bytes back"


def test_a_body_over_the_limit_is_413_whether_announced_or_streamed(api):
    from app.core.config import settings

    big = b'{"name": "x", "description": "' + b"x" * settings.MAX_BODY_BYTES + b'"}'
    announced = httpx.post(f"{api}/api/items", content=big, headers={"Content-Type": "application/json"}, timeout=10)
    assert announced.status_code == 413, announced.text[:200]

    def chunks():
        for start in range(0, len(big), 64 * 1024):
            yield big[start : start + 64 * 1024]

    streamed = httpx.post(
        f"{api}/api/items", content=chunks(), headers={"Content-Type": "application/json"}, timeout=10
    )
    assert streamed.status_code == 413, streamed.text[:200]
    assert len(streamed.content) < 500


def test_a_forged_host_never_reaches_the_location_header(api, worker):
    reply = httpx.post(
        f"{api}/api/async/process",
        json={"data": "x", "iterations": 1},
        headers={"Host": "evil.example"},
        timeout=10,
    )
    assert reply.status_code == 202, reply.text[:200]
    assert reply.headers["location"] == f"/api/async/status/{reply.json()['task_id']}"


def test_welcome_email_accepts_the_walkthrough_query_parameters(api, worker):
    from queuelabs.testing import contract

    contract.check_welcome_email_query_parameters(api, bad_input=(422,), missing_says="user_name")


def test_the_result_carries_the_walkthrough_fields(api, worker):
    from queuelabs.testing import contract

    with contract.client(api) as http:
        task_id = contract.submit(http, data="heavy task", iterations=3)["task_id"]
        result = contract.follow(http, task_id)[-1]["result"]
    assert result["processed_items"] == [f"HEAVY TASK_ITERATION_{n}" for n in (1, 2, 3)], result
    assert result["total"] == 3, result


def test_a_failure_names_the_error_but_no_server_address(api, worker):
    import redis

    from app import services
    from app.tasks import process_report

    # A task that fails with a message holding a server address, as a driver's error would.
    task_id = str(uuid.uuid4())
    client = redis.Redis.from_url(__import__("os").environ["REDIS_URL"])
    client.set(services.submission_key(task_id), process_report.name, ex=600)
    client.set(
        process_report.backend.get_key_for_task(task_id),
        json.dumps(
            {
                "status": "FAILURE",
                "task_id": task_id,
                "result": {
                    "exc_type": "ServerSelectionTimeoutError",
                    "exc_message": ["mongodb.internal:27017: [Errno 111] Connection refused"],
                    "exc_module": "pymongo.errors",
                },
            }
        ),
        ex=600,
    )
    body = httpx.get(f"{api}/api/async/status/{task_id}", timeout=10).json()
    assert body["status"] == "FAILURE" and body["error"].startswith("ServerSelectionTimeoutError: "), body
    assert "27017" not in body["error"] and "mongodb.internal" not in body["error"], body
