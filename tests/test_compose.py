"""docker-compose.yml's structure, read through the real Compose CLI (no Docker engine needed).

Running the stack in Docker is checked by hand against an engine (README, Docker);
what can be checked without one is checked here."""

import json
import subprocess
import time

import pytest

from queuelabs import rabbitmq_definitions
from queuelabs.readiness import beat_schedule_written
from queuelabs.settings import REPO_ROOT
from queuelabs.stack import compose_command


@pytest.fixture(scope="module")
def services():
    """Every service of every profile, as compose resolves them (anchors, defaults, .env)."""
    done = subprocess.run(
        [*compose_command(), "--profile", "*", "config", "--format", "json"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(REPO_ROOT)},  # the file's defaults, not a shell's overrides
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


def test_a_lab_container_waits_for_healthy_servers(services):
    for name, service in services.items():
        if (service.get("command") or [])[:2] == ["queuelabs", "run-process"] and name != "lab04-downstream":
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
