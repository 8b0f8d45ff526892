"""`make chaos`'s parts that need no server: how a row's refusals become seconds of 503, and
lab 05's classic-queue copy of the reference (its edits must still find their text)."""

from queuelabs.chaos import cluster_rows
from queuelabs.chaos.system import refused_seconds
from queuelabs.labs import find_lab


def test_refused_seconds_run_from_each_first_refusal_to_the_next_202():
    assert refused_seconds([]) == 0
    assert refused_seconds([(1.0, True), (2.0, True)]) == 0
    # two refusals then a 202 at 4.5 (answers arrive out of order from two threads), then one more refusal at the end
    answers = [(3.0, False), (2.0, False), (4.5, True), (5.0, True), (6.0, False), (6.5, False)]
    assert refused_seconds(answers) == (4.5 - 2.0) + (6.5 - 6.0)


def test_the_classic_copy_of_lab_05s_reference_declares_classic_queues(tmp_path, monkeypatch):
    monkeypatch.setattr(cluster_rows, "RUN_DIR", tmp_path)
    tree = cluster_rows.classic_reference(find_lab("05"))
    text = (tree / "app" / "celery_app.py").read_text()
    assert "REPLICATED: dict = {}" in text and 'EXCHANGE_TYPE = "direct"' in text
    assert '"x-queue-type": "quorum"' not in text
    assert (tree / "downstream").is_dir(), "the copy runs its own payment service too"


def test_chaos_picks_rows_by_any_comma_separated_part_of_their_title():
    from queuelabs.chaos.suite import chosen

    assert chosen("MongoDB kill -9 of the primary, kept down", None)
    assert chosen("MongoDB kill -9 of the primary, kept down", "partition, mongodb KILL")
    assert not chosen("Redis kill -9 of the primary", "partition,MongoDB")


def test_the_cluster_runs_on_loopback_unless_its_nodes_are_hosts_of_their_own():
    """Off by default (`make cluster` unchanged); with QUEUELABS_CLUSTER_NETNS each node number has
    its own address, which every client address and configuration names (read at import: a new process)."""
    import subprocess
    import sys

    from queuelabs.cluster import mongodb, rabbitmq, redis

    assert "10.77" not in rabbitmq.failover_url() + mongodb.URL
    show = (
        "from queuelabs.cluster import clients, mongodb, rabbitmq, redis;"
        "print(rabbitmq.failover_url(), mongodb.URL, redis.SENTINEL_URL, rabbitmq.NODES[2].erlang_name,"
        "redis._server_conf(2).split(chr(10)), redis.SERVERS, sep=chr(10))"
    )
    env = {"QUEUELABS_CLUSTER_NETNS": "qltest", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", show], env=env, capture_output=True, text=True, check=True).stdout
    urls, members, sentinels, node3, server2, servers = out.splitlines()
    assert urls.split(";")[1] == "amqp://guest:guest@10.77.0.2:5702/"
    assert members.startswith("mongodb://10.77.0.1:27101,10.77.0.2:27102,10.77.0.3:27103/")
    assert "sentinel://10.77.0.3:26393" in sentinels
    assert node3 == "cluster3@qltest3"
    assert "replicaof 10.77.0.1 6391" in server2 and "bind 10.77.0.2" in server2 and "protected-mode no" in server2
    # a replica on each other host, and a primary that refuses writes no replica has heard
    assert servers == "(6391, 6392, 6393)" and "min-replicas-to-write 1" in server2
    assert "min-replicas-to-write" not in redis._server_conf(2) and redis.SERVERS == (6391, 6392)
