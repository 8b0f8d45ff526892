"""docker-compose.yml run on a real Docker engine: `make test-docker` (pytest --docker).

Without --docker these tests are deselected, not skipped: `make test` (CI, no engine) neither
runs them nor counts them. They need an engine that answers `docker info` and the images (the
servers' pulled, `queuelabs-lab:local` built); they start what they need with `up -d --wait`
and stop the lab containers they started, leaving the three servers running.
"""

import subprocess

import httpx
import pytest

from queuelabs.labs import find_lab
from queuelabs.settings import RABBITMQ_MANAGEMENT_PORT, REPO_ROOT
from queuelabs.stack import compose_command
from queuelabs.testing.checks import patience
from queuelabs.waiting import wait_until

pytestmark = pytest.mark.docker

# `up --wait` gives every lab container its start period (120 s) and retries: patient on a busy laptop.
UP_TIMEOUT = 900


def compose(*args: str, files: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    chosen = [arg for path in ("docker-compose.yml", *files) for arg in ("-f", path)]
    return subprocess.run(
        [*compose_command(), *chosen, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=UP_TIMEOUT
    )


def started(profile: str, files: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return compose("--profile", profile, "up", "-d", "--wait", files=files)


@pytest.fixture
def lab02_reference():
    """Lab 02's reference in containers (profile lab02-reference), removed afterwards."""
    lab = find_lab("02")
    up = started("lab02-reference")
    try:
        assert up.returncode == 0, f"up --wait failed:\n{up.stdout[-2000:]}{up.stderr[-2000:]}"
        yield lab
    finally:
        compose("--profile", "lab02-reference", "rm", "-sf", *lab.process_names_for("solution").values())


def test_a_task_reaches_success_through_the_api_and_flower_answers(lab02_reference):
    lab = lab02_reference
    base = lab.url("solution")  # :8102, the reference's port as natively
    submitted = httpx.post(f"{base}/api/async/process", json={"data": "in docker", "iterations": 2}, timeout=30)
    assert submitted.status_code == 202, submitted.text
    status_url = f"{base}/api/async/status/{submitted.json()['task_id']}"
    done = wait_until(
        lambda: (answer := httpx.get(status_url, timeout=10).json())["status"] in ("SUCCESS", "FAILURE") and answer,
        timeout=patience(120),
        interval=0.5,
        what="the task to finish",
    )
    assert done["status"] == "SUCCESS", done
    assert httpx.get(lab.url("solution", "flower"), timeout=30).status_code == 200  # :5652


def test_permissions_cleared_by_hand_come_back_at_the_next_health_check():
    assert started("default").returncode == 0  # the servers only (no service is in a profile called default)
    vhost = find_lab("02").corner("solution").vhost
    url = f"http://127.0.0.1:{RABBITMQ_MANAGEMENT_PORT}/api/permissions/{vhost}/guest"
    with httpx.Client(auth=("guest", "guest"), timeout=30) as client:
        assert client.delete(url).status_code == 204
        wait_until(lambda: client.get(url).status_code == 200, timeout=patience(90), interval=0.5, what="permissions")


def test_a_worker_that_dies_makes_up_wait_fail(tmp_path):
    """Health checks mean it: a worker that dies before its first check fails `up --wait`."""
    dying = tmp_path / "dying-worker.yml"
    dying.write_text(
        "services:\n  lab02-ref-worker:\n"
        '    command: ["sh", "-c", "queuelabs run-process 02 worker & sleep 8; kill -9 $$!; wait"]\n'
    )
    lab = find_lab("02")
    try:
        up = started("lab02-reference", files=(str(dying),))
        assert up.returncode != 0, "up --wait succeeded with a dead worker"
        assert "lab02-ref-worker" in up.stdout + up.stderr
    finally:
        compose("--profile", "lab02-reference", "rm", "-sf", *lab.process_names_for("solution").values())


def cluster_picture() -> str:
    """What to read when the cluster did not form: each container's state, and cluster-formed's answer."""
    states = compose("--profile", "cluster", "ps", "-a", "--format", "{{.Name}} {{.Status}}").stdout
    formed = compose("logs", "--tail", "5", "cluster-formed").stdout
    health = subprocess.run(
        ["docker", "inspect", "--format", "{{json .State.Health.Log}}", *container_names("cluster-formed")],
        capture_output=True,
        text=True,
    ).stdout
    return f"{states}\n{formed}\n{health[-1500:]}"


def container_names(service: str) -> list[str]:
    return compose("ps", "-aq", service).stdout.split()


@pytest.mark.timeout(UP_TIMEOUT * 2 + 120)  # two `up --wait`, each bounded by UP_TIMEOUT, not pytest's 300 s
def test_the_cluster_profile_forms_and_answers_clients_here_as_make_cluster():
    """The cluster profile forms (its health checks pass), and from this machine, through the published
    ports, it gives the answers `make cluster` waits for: the addresses the nodes give each other
    (replica set members, the primary the Sentinels name) are the ones a client here uses. A node killed
    comes back with the next `up --wait` and the cluster is whole again."""
    from queuelabs import cluster
    from queuelabs.cluster import formed, mongodb

    services = [*cluster.PROCESSES, "cluster-net", "cluster-formed"]
    try:
        up = started("cluster")
        assert up.returncode == 0, f"up --wait failed:\n{up.stderr[-2000:]}\n{cluster_picture()}"
        assert formed.problem() is None
        assert cluster.answering_elsewhere()  # make lab05 reuses it
        assert mongodb.primary_number() in (1, 2, 3)
        assert compose("kill", "cluster-rabbitmq-2").returncode == 0
        wait_until(lambda: formed.problem(), timeout=patience(60), interval=0.5, what="the loss seen")
        up = started("cluster")
        assert up.returncode == 0, f"up --wait after a kill failed:\n{up.stderr[-2000:]}\n{cluster_picture()}"
        assert formed.problem() is None
    finally:
        compose("--profile", "cluster", "rm", "-sfv", *services)
