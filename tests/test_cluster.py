"""`make cluster` keeps its promise: losing any one node loses nothing acknowledged.

The cluster is started (or reused) once for the module, then one node of each
kind is killed for real (SIGKILL, by pid) while a client watches:

- RabbitMQ: a message published with a confirm to a quorum queue is still
  consumed after the node holding the queue's leader dies;
- MongoDB: a write acknowledged by the majority is read back after the primary
  dies and the two others elect a new one, and the next write goes through;
- Redis: the Sentinels promote the replica when the primary dies, and a key the
  replica had acknowledged (WAIT) is there on the new primary.

At the end, a cluster this module started is stopped by pid; one that was
already running is started again, so the killed nodes come back and rejoin.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import time
import uuid

import psutil
import pytest

from queuelabs import cluster
from queuelabs.cluster import mongodb, rabbitmq, redis
from queuelabs.processes import read_pid
from queuelabs.settings import CLUSTER, CLUSTER_REDIS_MASTER_NAME, HOST
from queuelabs.waiting import wait_until

# Failovers on a loaded two-core laptop: RabbitMQ re-elects a leader in seconds, MongoDB calls an
# election after 5 s of silence (ELECTION_SETTINGS), the Sentinels after DOWN_AFTER_MS; these limits allow for slowness.
FAILOVER_TIMEOUT = 90.0


@pytest.fixture(scope="module")
def running_cluster():
    was_running = cluster.running()
    cluster.up()
    yield
    if was_running:
        cluster.up()
    else:
        cluster.down()


def kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)


def test_a_second_make_cluster_reuses_every_process(running_cluster):
    before = {name: read_pid(name) for name in cluster.PROCESSES}
    assert all(before.values()), f"not running after make cluster: {before}"
    cluster.up()
    assert {name: read_pid(name) for name in before} == before


def test_every_node_listens_on_loopback_only(running_cluster):
    """Three nodes of each kind on one laptop: none of them, nor the cluster's epmd, faces a network."""
    pids = [read_pid(name) for name in cluster.PROCESSES]
    found = []
    for pid in filter(None, pids):
        root = psutil.Process(pid)
        for proc in [root, *root.children(recursive=True)]:
            found += [(proc.name(), c.laddr) for c in proc.net_connections("tcp") if c.status == psutil.CONN_LISTEN]
    listening = [c for c in psutil.net_connections("tcp") if c.status == psutil.CONN_LISTEN]
    found += [(f"epmd (pid {c.pid})", c.laddr) for c in listening if c.laddr.port == CLUSTER.epmd]
    ports = {address.port for _, address in found}
    assert set(CLUSTER.rabbitmq + CLUSTER.mongodb + CLUSTER.redis + CLUSTER.sentinel) <= ports
    exposed = [(who, address) for who, address in found if not ipaddress.ip_address(address.ip).is_loopback]
    assert not exposed, f"listening beyond this machine: {exposed}"


# Lab 05's notebook and Locust scenario each kill the MongoDB primary and bring it back: they run here,
# on the cluster this module started, before the tests below leave nodes down until the module ends.


@pytest.fixture
def cluster_back_after():
    """A notebook or scenario that failed before its last step leaves the member it killed down: have it
    back for the next test, which would otherwise fail for it (a replica set with one member left)."""
    yield
    cluster.up()


def test_lab05_notebook_runs_and_plots(running_cluster, run_notebook, cluster_back_after):
    run_notebook("05-beyond-one-machine.ipynb")
    assert mongodb.formed(mongodb.member_states()), "the notebook's last cell must bring the killed member back"


def test_lab05_loadtest_loses_nothing_while_the_mongodb_primary_dies(
    running_cluster, run_solution, monkeypatch, cluster_back_after
):
    from queuelabs.labs import find_lab
    from queuelabs.loadtest import REPORTS_DIR, run_loadtest

    downstream = run_solution("05", "downstream")["downstream"].url
    api = run_solution("05", "api", "worker", env={"DOWNSTREAM_URL": downstream, "TASK_STEP_SECONDS": "0.1"})["api"]
    for name, value in {"LOADTEST_KILL_AFTER": "2", "LOADTEST_SETTLE_SECONDS": "30"}.items():
        monkeypatch.setenv(name, value)
    rc = run_loadtest(find_lab("05"), users=5, spawn_rate=5, seconds=8, host=api.url)
    report = max(REPORTS_DIR.glob("lab05-*"), key=lambda p: p.stat().st_mtime)
    summary = [line for line in (report / "lab05.log").read_text().splitlines() if "[lab05] accepted" in line]
    assert rc == 0, f"the load test failed: {summary}"
    assert summary and "lost 0" in summary[-1] and "killed at" in summary[-1], summary
    assert mongodb.formed(mongodb.member_states()), "the scenario must bring the killed member back at its end"


def test_a_quorum_queue_keeps_a_confirmed_message_when_its_leader_dies(running_cluster):
    from kombu import Connection, Exchange, Queue

    name = f"cluster-test-{uuid.uuid4().hex[:8]}"
    queue = Queue(name, Exchange(name, "direct"), routing_key=name, queue_arguments={"x-queue-type": "quorum"})
    body = {"sent": "before the kill"}
    # With confirms, publish returns once the broker has the message: for a quorum
    # queue, once a majority of its members (2 of 3) have written it.
    with Connection(rabbitmq.NODES[0].url, transport_options={"confirm_publish": True}) as conn:
        conn.Producer().publish(body, exchange=queue.exchange, routing_key=name, declare=[queue], serializer="json")

    leader = wait_until(lambda: rabbitmq.queue_leader("/", name), timeout=30, what=f"the leader of {name}")
    started = time.monotonic()
    kill(rabbitmq.beam_pid(leader))
    survivor = next(node for node in rabbitmq.NODES if node != leader)

    def get_message():
        # A fresh connection each try, with a bounded read: until the remaining members
        # have elected a leader, a basic.get may fail or not be answered at all.
        conn = Connection(survivor.url, connect_timeout=5, transport_options={"read_timeout": 5})
        try:
            with conn:
                message = queue(conn.default_channel).get(no_ack=False)
                if message is not None:
                    message.ack()
                return message
        except (OSError, *conn.connection_errors, *conn.channel_errors):
            return None

    message = wait_until(get_message, timeout=FAILOVER_TIMEOUT, interval=1.0, what=f"the message on {survivor.name}")
    assert message.payload == body
    print(f"the message came back from {survivor.erlang_name} {time.monotonic() - started:.1f} s after the kill")
    new_leader = wait_until(
        lambda: (node := rabbitmq.queue_leader("/", name)) != leader and node,
        timeout=30,
        what=f"the management API to show a leader of {name} other than {leader.erlang_name}",
    )
    assert new_leader != leader
    # What `make status` shows: the killed node stopped, the two others running.
    states = {title: state for title, _, state in rabbitmq.status_rows()}
    assert states[f"RabbitMQ {leader.erlang_name}"] == "stopped", states
    assert sorted(states.values()).count("running") == 2, states
    with Connection(survivor.url) as conn:
        queue(conn.default_channel).delete()


def test_a_majority_write_survives_the_primary_and_a_new_one_is_elected(running_cluster):
    from pymongo import MongoClient, WriteConcern

    with MongoClient(mongodb.URL, serverSelectionTimeoutMS=int(FAILOVER_TIMEOUT * 1000)) as client:
        # Acknowledged only once two of the three members have it: an election cannot lose it.
        records = client["queuelabs_test"].get_collection(
            "cluster_failover", write_concern=WriteConcern(w="majority", wtimeout=30000)
        )
        record_id = uuid.uuid4().hex
        records.insert_one({"_id": record_id, "written": "before the kill"})
        old_primary = f"{client.primary[0]}:{client.primary[1]}"
        member = mongodb.MEMBERS.index(old_primary) + 1
        started = time.monotonic()
        kill(read_pid(mongodb.name(member)))

        def new_primary():
            states = mongodb.member_states()
            return next((host for host, state in states.items() if state == "PRIMARY" and host != old_primary), None)

        elected = wait_until(new_primary, timeout=FAILOVER_TIMEOUT, interval=1.0, what="a new MongoDB primary")
        assert elected != old_primary
        print(f"MongoDB elected {elected} {time.monotonic() - started:.1f} s after the kill")
        # What `make status` shows: the new primary, and the killed member stopped.
        roles = {host: state for _, host, state in mongodb.status_rows()}
        assert roles[elected] == "PRIMARY" and roles[old_primary] == "stopped", roles
        assert records.find_one({"_id": record_id}) == {"_id": record_id, "written": "before the kill"}
        # Retryable writes (the driver's default): the next write finds the new primary itself.
        records.insert_one({"_id": f"{record_id}-after", "written": "after the election"})
        assert records.count_documents({"_id": {"$in": [record_id, f"{record_id}-after"]}}) == 2
        records.delete_many({"_id": {"$in": [record_id, f"{record_id}-after"]}})


def test_the_sentinels_promote_the_replica_when_the_primary_dies(running_cluster):
    from redis.sentinel import Sentinel

    sentinels = Sentinel([(HOST, port) for port in CLUSTER.sentinel], socket_timeout=2.0)
    old_host, old_port = sentinels.discover_master(CLUSTER_REDIS_MASTER_NAME)
    primary = sentinels.master_for(CLUSTER_REDIS_MASTER_NAME, socket_timeout=2.0)
    key = f"cluster-test-{uuid.uuid4().hex[:8]}"
    primary.set(key, "before the kill")
    # Replication is asynchronous: WAIT returns how many replicas have the write so far.
    assert primary.wait(1, 10000) == 1, "the replica did not acknowledge the write"

    number = CLUSTER.redis.index(old_port) + 1
    started = time.monotonic()
    kill(read_pid(redis.server_name(number)))

    def promoted():
        views = {redis.sentinel_view(port) for port in CLUSTER.sentinel}
        return len(views) == 1 and (view := views.pop()) is not None and view[1] != old_port and view

    host, port = wait_until(promoted, timeout=FAILOVER_TIMEOUT, interval=0.5, what="the Sentinels to promote")
    assert (redis.replication(port) or {}).get("role") == "master"
    # What `make status` shows: the promoted server is the master, the killed one stopped,
    # and every Sentinel names the new primary.
    states = {address: state for _, address, state in redis.status_rows()}
    assert states[f"{HOST}:{port}"].startswith("master") and states[f"{HOST}:{old_port}"] == "stopped", states
    assert all(states[f"{HOST}:{s}"] == f"says the primary is {HOST}:{port}" for s in CLUSTER.sentinel), states
    print(f"Sentinel promoted {host}:{port} {time.monotonic() - started:.1f} s after the kill")
    assert primary.get(key) == b"before the kill"  # the client asks the Sentinels where the primary is now
    primary.delete(key)
