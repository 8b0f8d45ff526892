"""What a client of `make cluster` is given (lab 05), and the checkpoints' own corner of it.

A lab that needs "cluster" (lab.toml) runs against these three servers, never the
single-node stack: its processes and its checkpoints get the addresses of every
node (`client_env`), each in its own vhost, Redis database and MongoDB database,
as the other labs are on the single node (settings.CORNERS, TEST_ENV).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import quote

from .. import isolation, local_http
from ..errors import StackError
from ..settings import CLUSTER, CLUSTER_REDIS_MASTER_NAME, TEST_ENV, TEST_VHOST
from . import mongodb, rabbitmq, redis

if TYPE_CHECKING:
    import httpx

START_HINT = "start it with: make cluster"
TEST_REDIS_DB = 15  # the checkpoints' Redis database, as on the single node


def sentinel_url(db: int) -> str:
    """Celery's form of the Sentinels, one database: `sentinel://h:p/db;sentinel://...`."""
    return ";".join(f"sentinel://{redis.host(port)}:{port}/{db}" for port in CLUSTER.sentinel)


def client_env(vhost: str, redis_db: int, mongodb_db: str) -> dict[str, str]:
    """The environment of a process of a cluster lab: every node of each server. REDIS_SERVER_URL is
    one Redis server, the primary now (lab 05's starter, before exercise 5.5, uses it as lab 04 did)."""
    primary = redis.SERVERS[(redis.primary_number() or 1) - 1]
    return {
        "CELERY_BROKER_URL": rabbitmq.failover_url(vhost),
        "MONGODB_URL": mongodb.URL,
        "MONGODB_DB": mongodb_db,
        "REDIS_URL": sentinel_url(redis_db),
        # Empty: Celery reads CELERY_RESULT_BACKEND from the environment before its configuration, and
        # the single node's value (TEST_ENV) must not decide where lab 05 keeps results; its celery_app.py
        # does (exercise 5.5).
        "CELERY_RESULT_BACKEND": "",
        "REDIS_MASTER_NAME": CLUSTER_REDIS_MASTER_NAME,
        "REDIS_SERVER_URL": f"redis://{redis.host(primary)}:{primary}/{redis_db}",
    }


def test_env() -> dict[str, str]:
    """The checkpoints' corner of the cluster: the test vhost, Redis database 15, the test database."""
    return client_env(TEST_VHOST, TEST_REDIS_DB, TEST_ENV["MONGODB_DB"])


def down() -> str | None:
    """One line when the cluster does not answer as one (what `make check LAB=05` says), else None."""
    nodes = {entry["name"] for entry in rabbitmq.any_api("nodes") or [] if entry.get("running")}
    if len(nodes) < len(rabbitmq.NODES):
        return f"the RabbitMQ cluster is not running ({len(nodes)} of 3 nodes answer): {START_HINT}"
    if "PRIMARY" not in mongodb.member_states().values():
        return f"the MongoDB replica set has no primary: {START_HINT}"
    if not any(redis.sentinel_view(port) for port in CLUSTER.sentinel):
        return f"no Redis Sentinel answers: {START_HINT}"
    return None


def ensure_vhost(vhost: str) -> None:
    """Create a vhost for guest on the cluster (any node answers for all of them)."""
    import httpx

    path = quote(vhost, safe="")
    for node in rabbitmq.NODES:
        base = f"http://{node.host}:{node.management_port}/api"
        try:
            with local_http.client(auth=("guest", "guest"), timeout=5) as http:
                http.put(f"{base}/vhosts/{path}").raise_for_status()
                permissions = {"configure": ".*", "write": ".*", "read": ".*"}
                http.put(f"{base}/permissions/{path}/guest", json=permissions).raise_for_status()
            return
        except httpx.HTTPError:
            continue
    raise StackError(f"no RabbitMQ node of the cluster could create the vhost {vhost}: {START_HINT}")


def management(method: str, path: str, timeout: float = 10) -> httpx.Response | None:
    """One call to the management API of the first node that answers (any node answers for the
    whole cluster), or None when none does."""
    import httpx

    for node in rabbitmq.NODES:
        try:
            with local_http.client(auth=("guest", "guest"), timeout=timeout) as http:
                return http.request(method, f"http://{node.host}:{node.management_port}/api{path}")
        except httpx.HTTPError:
            continue
    return None


def queue_info(name: str, vhost: str = TEST_VHOST) -> dict | None:
    """The cluster's view of a queue (its type, leader or home node, messages...), or None."""
    return isolation.queue_info(name, vhost, api=management)


def purge_queues(names: tuple[str, ...] | list[str], vhost: str = TEST_VHOST) -> None:
    isolation.purge_queues(names, vhost, api=management)


def delete_queues(names: tuple[str, ...] | list[str], vhost: str = TEST_VHOST) -> None:
    isolation.delete_queues(names, vhost, api=management)


def delete_exchanges(vhost: str = TEST_VHOST) -> None:
    """The lab's own exchanges, so none keeps a type from an earlier run (the starter's direct
    exchange against the solution's topic one is PRECONDITION_FAILED). RabbitMQ's own (amq.*) and
    Celery's delayed-delivery exchanges stay: they never change, and declaring them costs seconds."""
    import httpx

    for node in rabbitmq.NODES:
        base = f"http://{node.host}:{node.management_port}/api/exchanges/{quote(vhost, safe='')}"
        try:
            with local_http.client(auth=("guest", "guest"), timeout=10) as http:
                for exchange in http.get(base).raise_for_status().json():
                    name = exchange["name"]
                    if name and not name.startswith(("amq.", "celery_delayed")):
                        http.delete(f"{base}/{quote(name, safe='')}")
            return
        except httpx.HTTPError:
            continue


def fresh_test_corner(queues: tuple[str, ...]) -> None:
    """Before a cluster lab's checkpoints: its vhost with no stale queue or exchange, its Redis
    database and MongoDB database empty (found through the Sentinels and the replica set, wherever
    the primaries are now)."""
    import redis as redis_py
    from pymongo import MongoClient

    delete_queues(queues)  # in the test vhost, which the `stack` fixture made sure of
    delete_exchanges()
    sentinel = redis_py.sentinel.Sentinel([(redis.host(port), port) for port in CLUSTER.sentinel], socket_timeout=5)
    sentinel.master_for(CLUSTER_REDIS_MASTER_NAME, db=TEST_REDIS_DB, socket_timeout=5).flushdb()
    with MongoClient(mongodb.URL, serverSelectionTimeoutMS=30_000) as mongo:
        mongo.drop_database(os.environ.get("MONGODB_DB", TEST_ENV["MONGODB_DB"]))


@contextmanager
def running_while(needed: bool) -> Iterator[None]:
    """`make prove` of a cluster lab: start the cluster (or reuse yours) for the lab's runs, all of
    them on one start; stop it afterwards only if it was started here (three of everything is heavy)."""
    from . import down as stop
    from . import running, up

    started = needed and not running()
    if needed:
        up()
    try:
        yield
    finally:
        if started:
            stop()
