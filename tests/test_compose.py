"""docker-compose.yml's structure, read through the real Compose CLI (no Docker engine needed).

Running the stack in Docker is checked by hand against an engine (README, Docker);
what can be checked without one is checked here."""

import json
import os
import subprocess
import time
from urllib.parse import urlsplit

import pytest

from queuelabs import cluster, rabbitmq_definitions
from queuelabs.cluster import mongodb, rabbitmq, redis
from queuelabs.labs import all_labs, find_lab
from queuelabs.readiness import beat_schedule_written
from queuelabs.settings import CLUSTER, CLUSTER_MONGO_REPLICA_SET, CLUSTER_REDIS_MASTER_NAME, CORNERS, REPO_ROOT
from queuelabs.stack import compose_command


@pytest.fixture(scope="module")
def services():
    """Every service of every profile, as compose resolves them (anchors, defaults, .env)."""
    done = subprocess.run(
        [*compose_command(), "--profile", "*", "config", "--format", "json"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        # The file's defaults, not a shell's overrides (SCALE_API...); where the compose plugin is found, kept.
        env={name: os.environ[name] for name in ("PATH", "HOME", "DOCKER_CONFIG") if name in os.environ},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["services"]


def test_every_service_has_a_health_check_so_up_wait_fails_when_one_dies(services):
    missing = [name for name, service in services.items() if not service.get("healthcheck", {}).get("test")]
    assert not missing, f"no healthcheck: {missing} (`up --wait` would count them ready while they die)"


def test_each_lab_container_is_checked_for_the_process_it_runs(services):
    """`run-process 03 beat` is checked by `queuelabs.readiness 03 beat`: what `make lab03` waits for."""
    for name, service in services.items():
        command = service.get("command") or []
        if command[:2] == ["queuelabs", "run-process"]:
            assert service["healthcheck"]["test"] == ["CMD", "python", "-m", "queuelabs.readiness", *command[2:]], name


def corner_services():
    """(lab, code, process, service name) for every process of every lab, in both codes."""
    for lab in all_labs():
        if "cluster" in lab.needs:  # lab 05's processes run natively, on `make cluster` or the cluster profile
            continue
        for code in ("exercise", "solution"):
            for process, name in lab.process_names_for(code).items():
                yield lab, code, process, name


def profile_of(lab, code: str) -> str:
    return f"lab{lab.id}" if code == "exercise" else f"lab{lab.id}-reference"


def test_each_lab_and_code_runs_in_its_own_corner(services):
    """What CORNERS says (queuelabs/settings.py), compose says too: the vhost, the Redis
    database, the MongoDB database, the ports (the reference's + 100, Flower 5552 / 5652...)."""
    on_compose = {corner for corner in CORNERS if "cluster" not in find_lab(corner[0]).needs}
    assert on_compose <= {(lab.id, code) for lab, code, _, _ in corner_services()}
    for lab, code, process, name in corner_services():
        corner = lab.corner(code)
        service = services.get(name)
        assert service, f"no service {name} (profile {profile_of(lab, code)}) for lab {lab.id}'s {process}"
        assert service["profiles"] == [profile_of(lab, code)], name
        assert service["command"] == ["queuelabs", "run-process", lab.id, process], name
        env = service["environment"]
        assert env["QUEUELABS_CODE"] == code, name
        assert env["MONGODB_DB"] == corner.mongodb_db, name
        for variable in ("REDIS_URL", "CELERY_RESULT_BACKEND"):
            if variable in env:
                assert urlsplit(env[variable]).path == f"/{corner.redis_db}", f"{name}: {variable}"
        if "rabbitmq" in lab.needs:
            assert urlsplit(env["CELERY_BROKER_URL"]).path == f"/{corner.vhost}", name
        declared = lab.processes[process].port
        published = [(int(p["published"]), p["target"]) for p in service.get("ports", [])]
        assert published == ([(corner.port(declared), declared)] if declared else []), name


def test_flower_per_lab_on_its_corner_port(services):
    flowers = {
        name: int(service["ports"][0]["published"]) for name, service in services.items() if name.endswith("-flower")
    }
    assert flowers == {
        "lab02-flower": 5552,
        "lab03-flower": 5553,
        "lab04-flower": 5554,
        "lab02-ref-flower": 5652,
        "lab03-ref-flower": 5653,
        "lab04-ref-flower": 5654,
    }


def test_a_lab_that_prepares_starts_its_other_processes_after_its_api(services):
    """The API's container runs lab.toml's `prepare` (lab 03's migrations) before it serves: a worker or
    beat started beside it would create a collection (beat's first digest) the migration then fails to create."""
    for lab, _, process, name in corner_services():
        if lab.manifest.lab.prepare and process != lab.api_process:
            api = name.removesuffix(process) + lab.api_process
            assert services[name]["depends_on"].get(api, {}).get("condition") == "service_healthy", name


def test_no_lab_container_outside_the_corners(services):
    """Every container that runs a lab process is a corner's, or the scale profile's lab 02 reference."""
    known = {name for _, _, _, name in corner_services()}
    reference = services["lab02-ref-api"]["environment"]
    for name, service in services.items():
        if (service.get("command") or [])[:2] != ["queuelabs", "run-process"] or name in known:
            continue
        assert name.startswith("scale-"), f"{name} runs a lab process but is no corner's (settings.CORNERS)"
        assert service["environment"] == reference, f"{name}: not lab 02's reference corner, as `make scale`"


def test_a_lab_container_waits_for_healthy_servers(services):
    for name, service in services.items():
        if (service.get("command") or [])[:2] == ["queuelabs", "run-process"] and not name.endswith("-downstream"):
            needs = service.get("depends_on", {})
            assert needs and all(dep["condition"] == "service_healthy" for dep in needs.values()), name


def test_every_port_is_published_on_127_0_0_1_only(services):
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port["host_ip"] == "127.0.0.1", f"{name} publishes {port['published']} on every interface"


def test_rabbitmq_imports_the_definitions_written_from_the_one_list_of_vhosts(services):
    assert rabbitmq_definitions.FILE.read_text() == rabbitmq_definitions.as_file(), (
        "queuelabs/rabbitmq-definitions.json is out of date: run `.venv/bin/python -m queuelabs.rabbitmq_definitions`"
    )
    rabbitmq = services["rabbitmq"]
    mounted = {volume["source"]: volume["target"] for volume in rabbitmq["volumes"]}
    target = mounted[str(rabbitmq_definitions.FILE)]
    check = " ".join(rabbitmq["healthcheck"]["test"])
    assert target in check and "import_definitions" in check  # at every check, so lost permissions come back


def test_no_obsolete_version_key():
    assert not any(line.startswith("version:") for line in (REPO_ROOT / "docker-compose.yml").read_text().splitlines())


def test_beat_counts_as_started_once_it_has_written_its_schedule_since_it_started(tmp_path):
    argv = ["celery", "-A", "config.celery_app", "beat", "--schedule", str(tmp_path / "beat-schedule")]
    now = time.time()
    assert not beat_schedule_written(argv, since=now)  # no file yet: still importing Django
    (tmp_path / "beat-schedule.db").write_text("")  # dbm may add a suffix
    assert beat_schedule_written(argv, since=now - 5)
    assert not beat_schedule_written(argv, since=now + 5)  # a file left by an earlier start
    assert beat_schedule_written(["celery", "worker"], since=now)  # not a beat: nothing to ask


# --- the cluster profile: `make cluster` in containers -------------------------------------------

CLUSTER_NAMESPACE = "cluster-net"  # holds the one network namespace every node shares, and publishes the ports


def in_profile(services, profile: str) -> dict:
    return {name: service for name, service in services.items() if service.get("profiles") == [profile]}


def test_the_cluster_profile_runs_each_process_of_make_cluster_under_its_name(services):
    """One container per process `make cluster` starts (its pid file's name), all in one network
    namespace, where each reaches the others on 127.0.0.1 as natively; and the one that checks."""
    profile = in_profile(services, "cluster")
    assert set(profile) == {*cluster.PROCESSES, CLUSTER_NAMESPACE, "cluster-formed"}
    for name, service in profile.items():
        if name != CLUSTER_NAMESPACE:
            assert service.get("network_mode") == f"service:{CLUSTER_NAMESPACE}", name


def test_the_cluster_publishes_the_native_ports_on_127_0_0_1(services):
    published = {(int(p["published"]), p["target"], p["host_ip"]) for p in services[CLUSTER_NAMESPACE]["ports"]}
    clients_use = [
        *CLUSTER.rabbitmq,
        *CLUSTER.rabbitmq_management,
        *CLUSTER.mongodb,
        *CLUSTER.redis,
        *CLUSTER.sentinel,
    ]
    assert published == {(port, port, "127.0.0.1") for port in clients_use}  # not the Erlang ports: internal


def test_each_cluster_node_has_its_native_name_and_ports(services):
    assert services[CLUSTER_NAMESPACE]["command"] == ["epmd", "-port", str(CLUSTER.epmd)]
    for node in rabbitmq.NODES:
        env = services[node.name]["environment"]
        assert env["RABBITMQ_NODENAME"] == node.erlang_name, node.name
        assert (int(env["AMQP_PORT"]), int(env["MANAGEMENT_PORT"])) == (node.port, node.management_port), node.name
        assert int(env["RABBITMQ_DIST_PORT"]) == CLUSTER.rabbitmq_distribution[node.number - 1], node.name
        assert int(env["ERL_EPMD_PORT"]) == CLUSTER.epmd, node.name
        assert f"classic_config.nodes.1 = {rabbitmq.NODES[0].erlang_name}" in services[node.name]["command"][-1]
    for number, port in enumerate(CLUSTER.mongodb, 1):
        service = services[mongodb.name(number)]
        assert int(service["environment"]["MONGOD_PORT"]) == port
        assert f"--replSet {CLUSTER_MONGO_REPLICA_SET} " in service["command"][-1]
    for number, port in enumerate(CLUSTER.redis, 1):
        env = services[redis.server_name(number)]["environment"]
        assert int(env["REDIS_PORT"]) == port
        assert env["REPLICA_OF"] == ("" if number == 1 else f"127.0.0.1 {CLUSTER.redis[0]}")
    for number, port in enumerate(CLUSTER.sentinel, 1):
        service = services[redis.sentinel_name(number)]
        assert int(service["environment"]["SENTINEL_PORT"]) == port
        watched = CLUSTER_REDIS_MASTER_NAME
        for line in (
            f"sentinel monitor {watched} 127.0.0.1 {CLUSTER.redis[0]} 2",
            f"sentinel down-after-milliseconds {watched} {redis.DOWN_AFTER_MS}",
            f"sentinel failover-timeout {watched} {redis.FAILOVER_TIMEOUT_MS}",
        ):
            assert line in service["command"][-1], service["command"]


def test_the_cluster_is_healthy_once_it_formed(services):
    """`up --wait` returns once the answers `make cluster` waits for are given: cluster-formed's
    check, which starts after every node answers."""
    formed = services["cluster-formed"]
    assert formed["command"] == ["python", "-m", "queuelabs.cluster.formed", "--form"]
    assert formed["healthcheck"]["test"] == ["CMD", "python", "-m", "queuelabs.cluster.formed"]
    waits_for = {name for name, dep in formed["depends_on"].items() if dep["condition"] == "service_healthy"}
    assert waits_for == set(cluster.PROCESSES)
