"""Exercise 3.3: submit = persist the intent, publish once committed, answer 202 + Location at once.

The fault checkpoint freezes the real RabbitMQ (SIGSTOP of its process, by pid):
a submission must end in a one-line 503 within the publish time limit, a
request that needs no broker, sent meanwhile, must answer quickly, and no
MongoDB transaction may stay open while the submission waits (publishing
inside the transaction instead of on commit holds one open for the 2 s).
"""

import os
import threading
import time

import httpx
import pytest

from queuelabs.faults import frozen, service_pid
from queuelabs.testing import contract
from queuelabs.testing.checks import fail_if_not_started, patience, wait_for
from queuelabs.waiting import eventually


@pytest.mark.exercise("3.3")
def test_submit_answers_202_at_once_with_location(api, worker, celery_app):
    # Follow the task in the result backend, so 3.3 passes before 3.4 is written.
    def state(task_id):
        return celery_app.backend.get_task_meta(task_id, cache=False)["status"]

    contract.check_submit_answers_202_at_once(api, task_state=state)


@pytest.mark.exercise("3.3")
def test_submit_rejects_bad_input_with_400(api, worker):
    contract.check_submit_rejects_bad_input(api, bad_input=(400,))


@pytest.mark.exercise("3.3")
def test_the_intent_is_written_before_the_answer(api, worker):
    from pymongo import MongoClient

    with contract.client(api) as http:
        task_id = contract.submit(http, data="remember me", iterations=1)["task_id"]
    with MongoClient(os.environ["MONGODB_URL"], serverSelectionTimeoutMS=3000) as mongo:
        found = mongo[os.environ["MONGODB_DB"]]["jobs_submission"].find_one({"_id": task_id})
    assert found is not None, f"no Submission document for task {task_id}: record the intent (services.record_intent)"
    assert found.get("task_name") == "reports.process", f"the Submission names {found.get('task_name')!r}"
    # MongoDB's oplog shows how the write happened: inside a transaction it is part of the commit's
    # applyOps; on its own, it is a plain insert.
    with MongoClient(os.environ["MONGODB_URL"], serverSelectionTimeoutMS=3000) as mongo:
        namespace = f"{os.environ['MONGODB_DB']}.jobs_submission"
        alone = mongo.local["oplog.rs"].find_one({"op": "i", "ns": namespace, "o._id": task_id})
    assert alone is None, (
        f"the intent of task {task_id} was written outside a MongoDB transaction: Django's own "
        "django.db.transaction.atomic() does nothing on this backend. Use django_mongodb_backend's transaction "
        "(jobs/transactions.py's atomically(...)), so the publish waits for a real commit"
    )


REFUSED = "refused while RabbitMQ was frozen"


def longest_open_transaction(mongo) -> float:
    """Seconds the oldest MongoDB transaction still open has been open (0 when none is)."""
    ops = mongo.admin.aggregate(
        [{"$currentOp": {"allUsers": True, "idleSessions": True}}, {"$match": {"transaction": {"$exists": True}}}]
    )
    return max((op["transaction"].get("timeOpenMicros", 0) / 1e6 for op in ops), default=0.0)


@pytest.mark.exercise("3.3")
def test_a_frozen_broker_gives_a_quick_503_and_other_routes_keep_answering(api, worker):
    with contract.client(api) as http:  # a warm API: it has published before
        contract.submit(http, data="warm up", iterations=1)
    box = {}

    def submit():
        start = time.monotonic()
        try:
            with httpx.Client(timeout=15) as http:
                box["response"] = http.post(f"{api}/api/async/process", json={"data": REFUSED, "iterations": 1})
        except httpx.TimeoutException:
            box["response"] = None
        box["took"] = time.monotonic() - start

    from pymongo import MongoClient

    with (
        MongoClient(os.environ["MONGODB_URL"], serverSelectionTimeoutMS=3000) as mongo,
        frozen(service_pid("rabbitmq")),
    ):
        thread = threading.Thread(target=submit)
        thread.start()
        time.sleep(0.3)  # the submission is now waiting for RabbitMQ
        start = time.monotonic()
        with httpx.Client(timeout=15) as http:
            probe = http.get(f"{api}/api/items")
        probe_took = time.monotonic() - start
        # A transaction commits in milliseconds; one open for 0.5 s waits for RabbitMQ.
        held_open = eventually(lambda: longest_open_transaction(mongo) > 0.5, timeout=1.5, interval=0.1)
        thread.join(20)
        left_behind = mongo[os.environ["MONGODB_DB"]]["jobs_submission"].count_documents({"arguments.data": REFUSED})
    response = box.get("response")
    assert response is not None, (
        "with RabbitMQ frozen the submission hung for 15 s: give every broker call a time limit"
    )
    if response.status_code == 501:
        fail_if_not_started(response.text)
    assert not held_open, (
        "while the submission waited for RabbitMQ, its MongoDB transaction stayed open: publish in "
        "transaction.on_commit(lambda: publish(...)) in jobs/views.py, enqueue: after the commit, not inside it"
    )
    assert response.status_code == 503, (
        f"with RabbitMQ frozen, the submission should end in a one-line 503, got {response.status_code}: "
        f"{response.text[:200]}"
    )
    assert "RabbitMQ" in response.json().get("detail", ""), f"the 503 should name RabbitMQ: {response.text[:200]}"
    assert left_behind == 0, (
        "RabbitMQ refused the submission, but its intent is still in MongoDB (its status would read PENDING "
        "for ever): in jobs/views.py, enqueue, catch BrokerUnavailable, services.forget_intent(task_id), raise"
    )
    assert probe.status_code == 200, f"GET /api/items answered {probe.status_code} while RabbitMQ was frozen"
    assert probe_took < box["took"] / 3, (
        f"GET /api/items took {probe_took:.2f} s while a submission waited {box['took']:.2f} s for RabbitMQ"
    )
    # Thawed: accepted again. Each API process of the reference refuses at once for
    # PUBLISH_TIMEOUT_SECONDS (2 s) after a time-out (RabbitMQ counts as hung): let that pass, so the
    # next checkpoints meet a healthy API, then wait for the first 202, patiently.
    time.sleep(2.0)
    with contract.client(api) as http:
        wait_for(
            lambda: (
                http.post("/api/async/process", json={"data": "after the thaw", "iterations": 1}).status_code == 202
            ),
            timeout=patience(10),
            interval=0.5,
            what="a submission accepted again after RabbitMQ was thawed",
        )
