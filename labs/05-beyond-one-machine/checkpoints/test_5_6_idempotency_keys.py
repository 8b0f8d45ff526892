"""Exercise 5.6: a repeated order is accepted once, whichever node dies after the first answer.

A client that sent an order with an Idempotency-Key and never heard back sends it again, with the
same key; the API must answer with the first task, not queue a second one. The key must survive any
one node: Redis copies a write to its replica a moment after answering, and a MongoDB primary with
w=1 answers before a secondary holds the write. On loopback those copies take a millisecond, so the
checkpoint holds the window open, as a slow network would: it freezes the Redis replica and both
MongoDB secondaries (SIGSTOP) and sends the order once. Accepted now, the order's key is held by one
server alone: that is the mistake (a frozen member's kernel still buffers what the primary sends, so
the checkpoint judges the promise, not a loss it cannot make certain). Then it kills both primaries
(SIGKILL) and thaws the others; the client sends the order again until it is accepted, and once
more: every 202 for that key must name one task, charged once. Before that, one order is sent until it is accepted,
then copies of one order sent at the same instant must be one task (first write wins). A key written with w="majority" cannot be acknowledged
while both secondaries are frozen, so the first send is refused (503: nothing was promised) and the
key is written once the new primary is elected.
"""

import asyncio
import json
import time
import uuid
from http.client import HTTPConnection
from urllib.parse import urlsplit

import httpx
import pytest

from queuelabs.testing.checks import patience
from queuelabs.waiting import WaitTimeout, wait_until

MONGODB = "Keep them in MongoDB: services.idempotency_keys(db) with w='majority' (5.6)"
ORDER = {"data": "order 5.6", "iterations": 2}


def check_where_the_keys_live() -> None:
    """Where the API keeps its keys, and the write concern it asks for, read before any order is sent."""
    from app import services
    from app.db import async_database, make_async_client

    if not hasattr(services, "idempotency_keys"):
        pytest.fail(
            "the Idempotency-Keys are kept in Redis (lab 04's SET NX), which copies a key to its replica after "
            "answering: a failover can forget a key the API already answered, and the client's retry becomes a "
            f"second order. {MONGODB}",
            pytrace=False,
        )

    async def asked() -> dict:
        client = make_async_client()
        try:
            return services.idempotency_keys(async_database(client)).write_concern.document
        finally:
            await client.close()

    concern = asyncio.run(asked())
    if "w" not in concern:
        pytest.fail(
            "the Idempotency-Keys' MongoDB writes state no write concern, so they take the server's default "
            f"(majority here, w:1 with an arbiter or before MongoDB 5.0). {MONGODB}",
            pytrace=False,
        )
    if concern["w"] in (0, 1):
        pytest.fail(
            f"the Idempotency-Keys' MongoDB writes are acknowledged by the primary alone ({concern}): if it dies "
            f"before a secondary copied a key, the client's retry becomes a second order. {MONGODB}",
            pytrace=False,
        )


def check_an_order_is_accepted(charges) -> None:
    """One order, sent again after each refusal until it is accepted, before any copies are sent at once.

    Of a burst of copies only the one that claims the key can be accepted: a 503 for it leaves the
    others with the 409 of a key still being accepted, and no task. Right after `make cluster`, the
    API may hold a connection a node's restart dropped (one 503 each, as in 5.2), and the run's first
    write creates the keys' collection; a slow laptop needs this one order more than once."""
    client = Client(charges)
    if not client.send_until_accepted(patience(30)):
        pytest.fail(
            f"an order with an Idempotency-Key, sent again after each refusal, was never accepted in "
            f"{patience(30):.0f} s while every node answered ({client.refusals()}): a retry after a 503 must be "
            "accepted once MongoDB answers, so release the key of a request that failed",
            pytrace=False,
        )


COPIES, BURSTS = 8, 8


def check_first_write_wins(api_url: str) -> None:
    """Copies of one order sent at the same instant (a client and its proxy both retrying): one task.

    A read-then-write claim lets two copies through only when both reads reach MongoDB before the
    first write, a few milliseconds: the copies must arrive together. Threads, or an async client that
    builds each request in turn, send them milliseconds apart on a busy laptop; so each copy has its
    own connection, opened beforehand, and the standard library writes the eight requests one after
    the other, within a millisecond. Even so a busy laptop can run one copy to its end before the
    next is read, so BURSTS bursts, each a new key. A burst whose every copy was refused (the claim
    met a 503) tests nothing and is sent again, with a new key, up to BURSTS times more."""
    address = urlsplit(api_url)
    judged, refused = 0, []
    while judged < BURSTS:
        answers = send_at_once(address.hostname, address.port, f"burst-{uuid.uuid4()}")
        tasks = {task for code, task in answers if code == 202}
        if not tasks and (down := [why for code, why in answers if code == 503]):
            refused.append(down[0])
            if len(refused) > BURSTS:
                pytest.fail(
                    f"{len(refused)} bursts of {COPIES} copies of one order sent at once were all refused: the copy "
                    f"that claimed the key got 503 (the last: {refused[-1]}), the others the 409 of a key still "
                    "being accepted; `make status` shows whether every node answers, then check again",
                    pytrace=False,
                )
            continue
        judged += 1
        assert len(tasks) == 1, (
            f"{COPIES} copies of one order sent at once were accepted as {len(tasks)} task(s) "
            f"(answers: {sorted(code for code, _ in answers)}): claim the key with one insert, its _id the "
            "key, never a read then a write; DuplicateKeyError tells every later copy the key is taken"
        )


def send_at_once(host: str, port: int, key: str) -> list[tuple[int, str]]:
    """COPIES copies of the order with this key, sent together: (status, the task id or the refusal) of each."""
    connections = [HTTPConnection(host, port, timeout=patience(15)) for _ in range(COPIES)]
    body, headers = json.dumps(ORDER), {"Content-Type": "application/json", "Idempotency-Key": key}
    try:
        for connection in connections:
            connection.connect()
        for connection in connections:
            connection.request("POST", "/api/async/process", body=body, headers=headers)
        answers = []
        for connection in connections:
            response = connection.getresponse()
            text = response.read().decode(errors="replace")
            answers.append((response.status, what_it_said(response.status, response.getheader("content-type"), text)))
        return answers
    finally:
        for connection in connections:
            connection.close()


def what_it_said(status: int, content_type: str | None, text: str) -> str:
    """The task id of a 202, else the refusal's detail (or its text when it is not JSON), cut to 200 characters."""
    body = json.loads(text) if (content_type or "").startswith("application/json") else {}
    return body.get("task_id", "") if status == 202 else str(body.get("detail", text))[:200]


class Client:
    """A client that sends one order with one Idempotency-Key, again and again, and keeps every answer."""

    def __init__(self, charges):
        self.http, self.key = charges.http, f"order-{uuid.uuid4()}"
        self.answers: list[tuple[int, str]] = []  # (status, task id or the refusal)

    def send(self) -> httpx.Response | None:
        try:
            response = self.http.post("/api/async/process", json=ORDER, headers={"Idempotency-Key": self.key})
        except httpx.TimeoutException:
            self.answers.append((0, "no answer in time"))
            return None
        said = what_it_said(response.status_code, response.headers.get("content-type"), response.text)
        self.answers.append((response.status_code, said))
        return response

    def send_until_accepted(self, timeout: float) -> bool:
        """Send the order every half second until it is accepted (202); False when it never was."""

        def accepted() -> bool:
            response = self.send()
            return response is not None and response.status_code == 202

        try:
            wait_until(accepted, timeout=timeout, interval=0.5, what="the order to be accepted")
        except WaitTimeout:
            return False
        return True

    def accepted(self) -> list[str]:
        """The task ids of every 202, in order, each once."""
        return list(dict.fromkeys(task for code, task in self.answers if code == 202))

    def refusals(self) -> str:
        refused = [f"{code} {why}" for code, why in self.answers if code != 202]
        return f"{len(refused)} refusal(s), the last: {refused[-1]}" if refused else "no refusal"


@pytest.mark.exercise("5.6")
def test_a_repeated_order_is_accepted_once_when_the_primaries_die(api, charges, lab_worker, downstream, nodes):
    check_where_the_keys_live()
    lab_worker.start(2)
    check_an_order_is_accepted(charges)
    check_first_write_wins(api)
    client = Client(charges)
    redis_primary, mongodb_primary = nodes.redis_primary(), nodes.mongodb_primary()
    with nodes.frozen_redis([3 - redis_primary]), nodes.frozen_mongodb([n for n in (1, 2, 3) if n != mongodb_primary]):
        first = client.send()  # the order; the client never hears the answer
        if first is not None and first.status_code == 202:
            pytest.fail(
                "the order was accepted (202) while the Redis replica and both MongoDB secondaries were frozen: "
                "its Idempotency-Key was held by one server alone (Redis's primary, or MongoDB's with w=1), and a "
                f"failover right then forgets it: the client's retry becomes a second order. {MONGODB}",
                pytrace=False,
            )
        nodes.kill_redis(redis_primary)
        nodes.kill_mongodb(mongodb_primary)
    killed = time.monotonic()
    # The client sends the order again until it is accepted: 503s meanwhile, while each set elects.
    if not client.send_until_accepted(patience(60)):
        pytest.fail(
            f"the repeated order was refused for {time.monotonic() - killed:.0f} s after the primaries died "
            f"({client.refusals()}): once each set elected a new primary it must be accepted again",
            pytrace=False,
        )
    again = client.send()  # and once more: the first answer, replayed
    tasks = client.accepted()
    assert len(tasks) == 1, (
        f"one order (Idempotency-Key {client.key}) was accepted as {len(tasks)} tasks: {tasks[0]} before the "
        f"failover, {tasks[1]} after it. The node that alone held the key died with it, and both tasks charge. "
        f"Redis, or a MongoDB write with w=1, answers before a second server holds the key. {MONGODB}"
    )
    assert again is not None and again.headers.get("Idempotent-Replayed") == "true", (
        f"the order sent again after it was accepted got {client.answers[-1]}, not the first answer replayed"
    )
    charges.wait_done(tasks, failing_over=True, timeout=40, stall=20)
    assert downstream.charges_for(tasks[0]) == 1, f"task {tasks[0]} charged {downstream.charges_for(tasks[0])} times"
