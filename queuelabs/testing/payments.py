"""Lab 04's checkpoint fixtures, shared with lab 05 (lab 04's reference on the cluster).

Both labs run the same payment task against the same flaky payment service, so
their conftests import these instead of each keeping a copy:

- `downstream`: the lab's payment service, one process for the lab's part of the
  run, its ledger emptied before each test (`Downstream`: its control and ledger);
- `lab_worker`: the plugin's worker, pointed at that service;
- `charges`: the API as the checkpoints use it (`ChargeApi`: submit charges, wait
  for their end).

A lab's conftest brings them into its folder with
`from queuelabs.testing.payments import charges, downstream, lab_worker`.
"""

from __future__ import annotations

import functools
from collections import Counter

import httpx
import pytest

from .. import local_http
from ..waiting import WaitTimeout, wait_until
from .checks import check_response, fail_if_not_started, patience
from .spawn import Worker, lab_process_starter


class Downstream:
    """The payment service's control and ledger, over HTTP."""

    def __init__(self, url: str):
        self.url = url
        self.http = local_http.client(url, timeout=10)

    def reset(self) -> None:
        self.http.delete("/charges").raise_for_status()

    def faults(self, **settings: float) -> None:
        self.http.put("/faults", json=settings).raise_for_status()

    def ledger(self) -> dict:
        return self.http.get("/charges").json()

    def charges_of(self, reference: str) -> list[dict]:
        return [c for c in self.ledger()["charges"] if c["reference"] == reference]

    def charges_for(self, reference: str) -> int:
        return len(self.charges_of(reference))

    def close(self) -> None:
        self.http.close()

    def duplicated(self) -> dict[str, int]:
        """References charged more than once: the effect these labs forbid."""
        counts = Counter(c["reference"] for c in self.ledger()["charges"])
        return {ref: n for ref, n in counts.items() if n > 1}


@pytest.fixture
def downstream(fresh_stack, lab_run, session_lab_process) -> Downstream:
    service = lab_run.keep("downstream", lambda: Downstream(session_lab_process("downstream").url))
    service.reset()  # before, not after, each test: a failed test's ledger can still be read
    return service


@pytest.fixture
def lab_worker(fresh_stack, lab_run, downstream) -> Worker:
    """The lab's worker process (not started yet), charging the test's payment service."""
    start = lab_process_starter(lab_run.lab, lab_run.spawner)
    start = functools.partial(start, env={"DOWNSTREAM_URL": downstream.url})
    return lab_run.keep("worker", lambda: Worker(start, spawner=lab_run.spawner))


class ChargeApi:
    """Lab 04's API, as the checkpoints use it: submit charges, wait for their end."""

    def __init__(self, url: str):
        self.http = local_http.client(url, timeout=patience(15))

    def submit(
        self, data: str = "order", iterations: int = 2, key: str | None = None, client: str | None = None
    ) -> httpx.Response:
        headers = {"Idempotency-Key": key} if key else {}
        if client:
            headers["X-Client-Id"] = client
        return self.http.post("/api/async/process", json={"data": data, "iterations": iterations}, headers=headers)

    def task_id(self, data: str = "order", iterations: int = 2) -> str:
        response = check_response(self.submit(data, iterations), expected=202)
        return response.json()["task_id"]

    def status(self, task_id: str) -> dict:
        return check_response(self.http.get(f"/api/async/status/{task_id}"), expected=200).json()

    def status_if_answered(self, task_id: str) -> dict | None:
        """The status, or None while the API answers 503 or not at all (a server failing over)."""
        try:
            response = self.http.get(f"/api/async/status/{task_id}")
        except httpx.TimeoutException:
            return None
        return None if response.status_code == 503 else check_response(response, expected=200).json()

    def dead_letters(self) -> dict[str, dict]:
        """GET /api/dead-letters, by task id."""
        body = check_response(self.http.get("/api/dead-letters"), expected=200).json()
        return {letter["task_id"]: letter for letter in body["dead_letters"]}

    def wait_done(
        self,
        task_ids: list[str],
        *,
        timeout: float = 25.0,
        stall: float = 8.0,
        want: str | None = "SUCCESS",
        advice: str = "",
        failing_over: bool = False,
    ) -> dict[str, dict]:
        """Poll until every task is SUCCESS or FAILURE; their last answers. Fails after `timeout`, or
        sooner when nothing moved (no status or attempt count changed) for `stall` seconds. `advice`
        ends the message of a task that ended in the wrong state: what to fix. `failing_over`: a 503
        (or no answer) from the status is "not yet", not a failure (a server of the cluster is down)."""
        timeout, stall = patience(timeout), patience(stall)  # a busy machine runs the same work slower
        done: dict[str, dict] = {}
        last: dict[str, dict] = {}

        def all_finished() -> bool:
            for task_id in task_ids:
                if task_id not in done:
                    body = self.status_if_answered(task_id) if failing_over else self.status(task_id)
                    if body is None:
                        continue
                    last[task_id] = body
                    if body["status"] in ("SUCCESS", "FAILURE"):
                        fail_if_not_started(body.get("error", ""))
                        done[task_id] = body
            return len(done) == len(task_ids)

        def moving() -> list:  # a status or an attempt count that changes is progress
            return [(last[t]["status"], last[t].get("attempts")) for t in task_ids if t in last]

        try:
            wait_until(all_finished, timeout=timeout, stall=stall, progress=moving, what="the tasks to finish")
        except WaitTimeout as exc:
            stuck = Counter(last[t]["status"] for t in task_ids if t not in done and t in last)
            why = f"(nothing moved for {stall:g} s)" if exc.stalled else f"within {timeout:g} s"
            raise AssertionError(
                f"{len(task_ids) - len(done)} of {len(task_ids)} tasks did not finish {why}, "
                f"still {dict(stuck)}: lost, waiting a long retry, or stuck on something that never answers"
            ) from None
        if want is not None:
            wrong = {t: b for t, b in done.items() if b["status"] != want}
            if wrong:
                example = next(iter(wrong.values()))
                error = example.get("error") or f"after {example.get('attempts')} attempt(s)"
                raise AssertionError(
                    f"{len(wrong)} task(s) ended {example['status']}, not {want}: "
                    + (f"{advice} ({error})" if advice else error)
                )
        return done


@pytest.fixture
def charges(api) -> ChargeApi:
    return ChargeApi(api)
