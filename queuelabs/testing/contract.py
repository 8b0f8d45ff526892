"""The HTTP contract of labs 02, 03 and 04, as checks that need only a base URL.

Every function here talks HTTP to a running API (any framework) with a
running worker behind it, and raises AssertionError with a readable message
when the API breaks the contract written in labs/02-fastapi-celery/README.md.
Each lab wraps them in checkpoints with its own exercise marks, and passes
the status codes its framework uses for bad input (`bad_input=(422,)` for
FastAPI, `(400,)` for DRF).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from queuelabs import local_http
from queuelabs.testing.checks import check_response, fail_if_not_started, patience, wait_for
from queuelabs.waiting import WaitTimeout, wait_until

TERMINAL = {"SUCCESS", "FAILURE", "REVOKED"}
KNOWN_STATES = {"PENDING", "STARTED", "PROGRESS", "RETRY", "SUCCESS", "FAILURE"}
BAD_INPUT = (400, 422)  # lab 02 (FastAPI) answers 422; the contract allows 400 as well


def client(base_url: str, **options) -> httpx.Client:  # options: httpx.Client's; patient by default
    return local_http.client(base_url, **{"timeout": patience(10.0), **options})


# --- submitting and polling -------------------------------------------------------


def submit(http: httpx.Client, data: str = "hello queue", iterations: int = 3, priority: str = "normal") -> dict:
    """POST /api/async/process; checks the 202 answer and returns its body (plus `location`)."""
    try:
        answer = http.post("/api/async/process", json={"data": data, "iterations": iterations, "priority": priority})
    except httpx.TimeoutException:
        raise AssertionError(
            f"POST /api/async/process gave no answer within {http.timeout.read:g} s: the request must answer 202 "
            "before the work is done (queue the task and return; never wait for its result in the request)"
        ) from None
    response = check_response(answer, expected=202)
    body = response.json()
    assert isinstance(body.get("task_id"), str) and body["task_id"], f"202 without a task_id: {body}"
    assert body.get("status") == "PENDING", f"a fresh submission must say PENDING, not {body.get('status')!r}"
    assert isinstance(body.get("message"), str) and body["message"], f"202 without a message: {body}"
    body["location"] = response.headers.get("location")
    return body


def status(http: httpx.Client, task_id: str) -> dict:
    response = check_response(http.get(f"/api/async/status/{task_id}"), expected=200)
    body = response.json()
    assert body.get("task_id") == task_id, f"status of {task_id} names another task: {body}"
    assert body.get("status") in KNOWN_STATES, f"unknown status {body.get('status')!r}: {body}"
    return body


def follow(http: httpx.Client, task_id: str, *, timeout: float = 20.0, interval: float = 0.03) -> list[dict]:
    """Poll the status until the task ends; every answer seen, in order. Fails on FAILURE."""
    timeout = patience(timeout)
    seen: list[dict] = []

    def ended() -> bool:
        body = status(http, task_id)
        seen.append(body)
        if body["status"] == "FAILURE":
            fail_if_not_started(body.get("error", ""))
            raise AssertionError(f"task {task_id} failed: {body.get('error')}")
        return body["status"] in TERMINAL

    try:
        wait_until(ended, timeout=timeout, interval=interval)
    except WaitTimeout:
        states = " -> ".join(dict.fromkeys(b["status"] for b in seen))
        raise AssertionError(
            f"task {task_id} did not finish within {timeout:g} s (seen: {states}); is a worker consuming its queue?"
        ) from None
    return seen


def check_progress(progress: Any, total: int) -> None:
    assert isinstance(progress, dict), f"PROGRESS must carry a progress object, got {progress!r}"
    missing = {"current", "total", "percent", "message"} - set(progress)
    assert not missing, f"progress lacks {sorted(missing)}: {progress}"
    assert progress["total"] == total, f"progress total should be {total}: {progress}"
    assert 0 <= progress["current"] <= total, f"progress current out of range: {progress}"
    assert 0 <= progress["percent"] <= 100, f"percent out of range: {progress}"
    assert progress["percent"] == int(progress["current"] * 100 / total), (
        f"percent does not match current/total: {progress}"
    )


# --- the checks -------------------------------------------------------------------


def check_submit_answers_202_at_once(
    base_url: str, *, iterations: int = 100, task_state: Callable[[str], str] | None = None
) -> str:
    """202 {task_id, status: PENDING, message} + Location, before the work is done.

    `task_state(task_id)` tells how the task is doing; by default it asks the
    status endpoint. A lab may pass its own (reading the result backend), so
    this check does not depend on the status endpoint being written yet.
    """
    with client(base_url) as http:
        state = task_state or (lambda tid: status(http, tid)["status"])
        body = submit(http, data="answer me at once", iterations=iterations, priority="normal")
        task_id = body["task_id"]
        location = body["location"]
        assert location, "the 202 answer has no Location header pointing at the status URL"
        assert location.endswith(f"/api/async/status/{task_id}"), f"Location {location!r} is not the task's status URL"
        # The answer came before the work was done: the task is not finished yet...
        now = state(task_id)
        assert now not in TERMINAL, (
            f"the task was already {now} when the 202 arrived: the request must answer 202 before the work is "
            "done. Did the endpoint wait for the task's result (.get(), a loop on its state)?"
        )
        # ...and a worker does run it to the end.
        final = wait_for(
            lambda: (s := state(task_id)) in TERMINAL and s,
            timeout=20,
            interval=0.05,
            what=f"task {task_id} to finish (is a worker consuming its queue?)",
        )
        assert final == "SUCCESS", f"the submitted task ended {final}"
        return task_id


def check_submit_rejects_bad_input(base_url: str, *, bad_input: tuple[int, ...] = BAD_INPUT) -> None:
    with client(base_url) as http:
        submit(http, data="a valid one first", iterations=1)
        cases = {
            "iterations 0": {"data": "x", "iterations": 0},
            "iterations 1001": {"data": "x", "iterations": 1001},
            "iterations not a number": {"data": "x", "iterations": "many"},
            "unknown priority": {"data": "x", "priority": "urgent"},
            "no data": {"iterations": 3},
            "data of 10,001 characters": {"data": "x" * 10_001},
        }
        for what, payload in cases.items():
            response = http.post("/api/async/process", json=payload)
            assert response.status_code in bad_input, (
                f"{what}: expected {' or '.join(map(str, bad_input))}, got {response.status_code}: {response.text[:200]}"
            )


def check_unknown_task_is_404(base_url: str) -> None:
    with client(base_url) as http:
        for task_id in ("00000000-0000-0000-0000-000000000000", "never-submitted"):
            response = http.get(f"/api/async/status/{task_id}")
            if response.status_code == 501:
                fail_if_not_started(response.text)
            assert response.status_code == 404, (
                f"GET /api/async/status/{task_id} (never submitted) answered {response.status_code}, expected 404 "
                f"(Celery says PENDING for any id: check that the id was submitted): {response.text[:100]}"
            )


def check_status_reports_progress_then_success(base_url: str, *, iterations: int = 20) -> list[dict]:
    with client(base_url) as http:
        task_id = submit(http, data="watch me work", iterations=iterations)["task_id"]
        seen = follow(http, task_id)
        progress = [b for b in seen if b["status"] == "PROGRESS"]
        assert progress, f"never saw PROGRESS while polling (saw {[b['status'] for b in seen]})"
        for body in progress:
            check_progress(body.get("progress"), iterations)
        currents = [b["progress"]["current"] for b in progress]
        assert currents == sorted(currents), f"progress went backwards: {currents}"
        final = seen[-1]
        assert final["status"] == "SUCCESS", f"expected SUCCESS at the end, got {final}"
        assert isinstance(final.get("result"), dict), f"SUCCESS must carry the result: {final}"
        assert not final.get("error"), f"SUCCESS with an error: {final}"
        return seen


def check_welcome_email(base_url: str, *, bad_input: tuple[int, ...] = BAD_INPUT) -> dict:
    with client(base_url) as http:
        response = check_response(
            http.post("/api/send-welcome-email", json={"email": "ada@example.com", "name": "Ada"}), expected=202
        )
        body = response.json()
        assert body.get("task_id") and body.get("status") == "PENDING", f"unexpected 202 body: {body}"
        final = follow(http, body["task_id"])[-1]
        assert final["status"] == "SUCCESS", f"the email task ended {final}"
        result = final.get("result") or {}
        assert result.get("email") == "ada@example.com" and result.get("status") == "sent", (
            f"the result should say the email to ada@example.com was sent: {result}"
        )
        for what, payload in {"no @ in email": {"email": "ada", "name": "Ada"}, "no name": {"email": "a@b.io"}}.items():
            bad = http.post("/api/send-welcome-email", json=payload)
            assert bad.status_code in bad_input, f"{what}: expected {bad_input}, got {bad.status_code}"
        return final


def check_welcome_email_query_parameters(
    base_url: str, *, bad_input: tuple[int, ...] = BAD_INPUT, missing_says: str = "user_name"
) -> dict:
    """The source material's walkthrough, verbatim: POST /api/send-welcome-email?user_email=...&user_name=...
    queues the email too; without user_name it is bad input whose detail names what is missing."""
    with client(base_url) as http:
        reply = http.post("/api/send-welcome-email", params={"user_email": "ada@example.com", "user_name": "Ada"})
        assert reply.status_code == 202, reply.text[:200]
        final = follow(http, reply.json()["task_id"])[-1]
        assert final["result"]["email"] == "ada@example.com" and final["result"]["name"] == "Ada", final
        missing = http.post("/api/send-welcome-email", params={"user_email": "ada@example.com"})
        assert missing.status_code in bad_input and missing_says in missing.json()["detail"], missing.text
        return final


def check_priorities_reorder_queued_work(
    base_url: str, start_worker: Callable[[], Any], *, lows: int = 3, iterations: int = 4
) -> list[str]:
    """With no worker running, queue `lows` low tasks then one high; start one worker
    (concurrency 1): the high one must finish first. Returns the finishing order."""
    with client(base_url) as http:
        low_ids = [submit(http, data=f"low {i}", iterations=iterations, priority="low")["task_id"] for i in range(lows)]
        high_id = submit(http, data="high", iterations=iterations, priority="high")["task_id"]
        names = {tid: f"low {i}" for i, tid in enumerate(low_ids)} | {high_id: "high"}
        start_worker()
        finished: list[str] = []

        def all_finished() -> bool:
            for tid in names:
                if tid in finished:
                    continue
                body = status(http, tid)
                if body["status"] == "FAILURE":
                    fail_if_not_started(body.get("error", ""))
                    raise AssertionError(f"task {names[tid]} failed: {body.get('error')}")
                if body["status"] == "SUCCESS":
                    finished.append(tid)
            return len(finished) == len(names)

        try:
            wait_until(all_finished, timeout=30, interval=0.02)
        except WaitTimeout:
            raise AssertionError(
                f"not every task finished within 30 s (finished: {[names[t] for t in finished]})"
            ) from None
        order = [names[t] for t in finished]
        assert order[0] == "high", (
            f"finishing order {order}: the high-priority task, queued last, should have run first. "
            "Is the queue declared with x-max-priority, and does the submission pass the priority?"
        )
        return order


def check_health(base_url: str, *, worker_running: bool) -> dict:
    with client(base_url) as http:
        start = time.monotonic()
        response = http.get("/health")
        elapsed = time.monotonic() - start
        body = response.json()
        assert set(body.get("services", {})) >= {"mongodb", "redis", "rabbitmq", "worker"}, f"services missing: {body}"
        if worker_running and body.get("status") != "healthy":
            # The health check gives each service a short limit: on a busy machine a running worker
            # can miss one ping. It must answer healthy within the machine's patience, asked again.
            answers = [(response, body)]

            def healthy() -> bool:
                again = http.get("/health")
                answers.append((again, again.json()))
                return again.status_code == 200 and answers[-1][1].get("status") == "healthy"

            try:
                wait_until(healthy, timeout=patience(10), interval=0.5, what="/health to answer healthy")
            except WaitTimeout:
                pass  # the assertion below says what it answered last
            response, body = answers[-1]
        if worker_running:
            assert response.status_code == 200 and body["status"] == "healthy", f"expected 200 healthy: {body}"
        else:
            assert response.status_code == 503 and body["status"] == "degraded", f"expected 503 degraded: {body}"
            assert body["services"]["worker"] != "ok", f"no worker runs, yet: {body}"
        body["_elapsed"] = elapsed
        return body


def check_items_crud(base_url: str, *, bad_input: tuple[int, ...] = BAD_INPUT) -> None:
    with client(base_url) as http:
        created = check_response(
            http.post("/api/items", json={"name": "Test item", "description": "first", "metadata": {"k": "v"}}),
            expected=201,
        ).json()
        assert created.get("id") and created["name"] == "Test item" and created["metadata"] == {"k": "v"}, created
        for field in ("created_at", "updated_at"):
            assert created.get(field), f"an item has {field}: {created}"
        fetched = check_response(http.get(f"/api/items/{created['id']}"), expected=200).json()
        assert fetched["id"] == created["id"], fetched
        listed = check_response(http.get("/api/items"), expected=200).json()
        assert any(item["id"] == created["id"] for item in listed), "the new item is not in GET /api/items"
        assert http.get("/api/items/507f1f77bcf86cd799439011").status_code == 404, "unknown id must be 404"
        malformed = http.get("/api/items/not-an-object-id").status_code
        assert malformed in (404, *bad_input), f"a malformed id must be 404 or bad input, never {malformed}"
        for payload in ({}, {"name": ""}, {"name": "x" * 201}, {"name": "ok", "metadata": "not an object"}):
            got = http.post("/api/items", json=payload).status_code
            assert got in bad_input, f"POST /api/items {payload!r:.60} answered {got}, expected {bad_input}"
