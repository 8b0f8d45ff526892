"""The solution's own tests: the HTTP contract of lab 02 on lab 04's API, health, and a frozen broker.

Run by `queuelabs prove 04` on the solution only (no exercise marks).
"""

import time
import uuid

import httpx

from queuelabs import faults
from queuelabs.testing import contract


def test_submit_answers_202_at_once(api, worker, downstream):
    contract.check_submit_answers_202_at_once(api, iterations=20)


def test_submit_rejects_bad_input_and_bad_keys(api, worker):
    contract.check_submit_rejects_bad_input(api, bad_input=(422,))
    too_long = httpx.post(
        f"{api}/api/async/process", json={"data": "x"}, headers={"Idempotency-Key": "k" * 256}, timeout=10
    )
    assert too_long.status_code == 422, too_long.text


def test_unknown_task_is_404_and_unknown_dead_letter_is_404(api):
    contract.check_unknown_task_is_404(api)
    response = httpx.post(f"{api}/api/dead-letters/never-submitted/replay", timeout=10)
    assert response.status_code == 404, response.text


def test_health_names_the_payment_service(start_lab_process, worker, downstream):
    api = start_lab_process("api", env={"DOWNSTREAM_URL": downstream.url}).url
    body = contract.check_health(api, worker_running=True)
    assert body["services"]["downstream"] == "ok", body


def test_a_frozen_broker_is_a_quick_503_not_a_hang(api, worker):
    """Publishing has a time limit (BROKER_TIMEOUT_SECONDS): a frozen RabbitMQ is a one-line 503."""
    with httpx.Client(base_url=api, timeout=30) as http:
        started = time.monotonic()
        check = http.post("/api/async/process", json={"data": "calm", "iterations": 1})
        calm = time.monotonic() - started
        assert check.status_code == 202, check.text
        with faults.frozen(faults.service_pid("rabbitmq")):
            started = time.monotonic()
            response = http.post("/api/async/process", json={"data": "frozen", "iterations": 1})
            frozen = time.monotonic() - started
            meanwhile = http.get("/api/async/status/never-submitted")  # the API still answers
        assert response.status_code == 503 and "RabbitMQ" in response.json()["detail"], response.text
        assert "\n" not in response.json()["detail"]
        assert meanwhile.status_code == 404
        assert frozen < 20 * max(calm, 0.2), f"the 503 took {frozen:.1f} s, a calm 202 {calm:.2f} s"
        after = http.post("/api/async/process", json={"data": "thawed", "iterations": 1})
        assert after.status_code == 202, after.text


def test_a_retry_after_an_unconfirmed_publish_publishes_the_same_task(charges, worker, downstream):
    """RabbitMQ frozen on a warm connection: the 503 says the task may run; the same Idempotency-Key
    then publishes the SAME task id again, so however the first publish ended, one charge."""
    key = f"unsure-{uuid.uuid4()}"
    assert charges.submit("warm up", 1).status_code == 202  # a warm connection: the publish is written
    with faults.frozen(faults.service_pid("rabbitmq")):
        first = charges.submit("pay once, unsure", 1, key=key)
    assert first.status_code == 503 and "may run or not" in first.json()["detail"], first.text
    retry = charges.submit("pay once, unsure", 1, key=key)
    assert retry.status_code == 202, retry.text
    assert retry.json()["task_id"] == first.json()["task_id"], "the retry must publish the unconfirmed task again"
    charges.wait_done([retry.json()["task_id"]], timeout=30)
    assert downstream.charges_for(retry.json()["task_id"]) == 1, downstream.ledger()


def test_lab_02s_edges_hold_here_too(api):
    """Carried from lab 02: the body limit, lone surrogates, no Location from the Host header."""
    with httpx.Client(base_url=api, timeout=30) as http:
        huge = http.post("/api/async/process", content=b'{"data": "' + b"x" * 10_000_000 + b'"}')
        assert huge.status_code == 413 and len(huge.content) < 200, huge.text[:200]
        surrogate = http.post(
            "/api/async/process",
            content=b'{"data": "\\ud800"}',
            headers={"Content-Type": "application/json", "Idempotency-Key": "surrogate"},
        )
        assert surrogate.status_code == 422, surrogate.text
        slash = http.get("/api/dead-letters/", headers={"Host": "evil.example"}, follow_redirects=False)
        assert slash.status_code == 404 and "evil.example" not in slash.headers.get("location", "")
