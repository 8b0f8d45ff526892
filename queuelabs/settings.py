"""Where things are: the repository, the run folder, the services and their ports.

Every value can be overridden from the environment (see .env.example); the
defaults are the local ones (docs/maintainers.md lists the ports), all bound to 127.0.0.1.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LABS_DIR = REPO_ROOT / "labs"
# Everything the native stack writes (data, logs, pid files) goes here, so
# `make down` and a reset know exactly what belongs to the project.
RUN_DIR = Path(os.environ.get("QUEUELABS_RUN_DIR", REPO_ROOT / ".run"))
LOG_DIR = RUN_DIR / "logs"
PID_DIR = RUN_DIR / "pids"
DATA_DIR = RUN_DIR / "data"

HOST = "127.0.0.1"

# A learner's own settings (cp .env.example .env) win over the defaults below,
# and the real environment wins over both.
try:
    from dotenv import load_dotenv

    load_dotenv(REPO_ROOT / ".env", override=False)
except ImportError:  # python-dotenv comes with uvicorn[standard]; not fatal without it
    pass


@dataclass(frozen=True)
class Service:
    """One infrastructure server the labs need."""

    name: str  # the key used everywhere: rabbitmq, redis, mongodb
    title: str  # what a learner reads
    port: int
    url: str  # what a learner opens or connects to
    extra: str = ""  # a second URL worth printing (a management UI)


SERVICES: dict[str, Service] = {
    "rabbitmq": Service(
        "rabbitmq",
        "RabbitMQ",
        5672,
        f"amqp://guest:guest@{HOST}:5672//",
        extra=f"http://{HOST}:15672 (guest / guest)",
    ),
    "redis": Service("redis", "Redis", 6379, f"redis://{HOST}:6379/0"),
    "mongodb": Service("mongodb", "MongoDB", 27017, f"mongodb://{HOST}:27017/?directConnection=true"),
}

RABBITMQ_MANAGEMENT_PORT = 15672
LOCUST_PORT = 8089
JUPYTER_PORT = 8888


# `make cluster` (lab 05's foundation): the same three engines replicated, on a block of
# ports of their own so the single-node stack above runs beside it. Node n (1, 2, 3) of
# each kind takes the n-th port of its row; docs/scaling.md describes what runs.
@dataclass(frozen=True)
class ClusterPorts:
    rabbitmq: tuple[int, ...] = (5701, 5702, 5703)  # AMQP
    rabbitmq_management: tuple[int, ...] = (15701, 15702, 15703)
    rabbitmq_distribution: tuple[int, ...] = (25701, 25702, 25703)  # Erlang node to node
    epmd: int = 4371  # the cluster's own Erlang port mapper (the single node's is on 4369)
    mongodb: tuple[int, ...] = (27101, 27102, 27103)
    redis: tuple[int, ...] = (6391, 6392)  # the primary at first start, then its replica
    sentinel: tuple[int, ...] = (26391, 26392, 26393)


CLUSTER = ClusterPorts()
CLUSTER_MONGO_REPLICA_SET = "queuelabs-cluster"
CLUSTER_REDIS_MASTER_NAME = "queuelabs"  # the name the Sentinels know the primary by


@dataclass(frozen=True)
class Corner:
    """One lab's own corner of the shared servers, for one code (yours or the reference).

    Two corners never share a RabbitMQ vhost (so no worker takes another lab's
    tasks), a Redis database, a MongoDB database, a port or a process name: labs
    01-04, each with your code and the reference, can all run at once.
    """

    lab_id: str
    code: str  # exercise (your code) or solution (the reference)
    vhost: str
    redis_db: int
    mongodb_db: str
    port_offset: int  # added to every port lab.toml declares
    prefix: str  # of process names (`lab02-ref-api`) and worker names (`lab02-ref-worker@host`)

    def port(self, declared: int) -> int:
        return declared + self.port_offset


# Your code runs on the ports lab.toml declares (the lessons' 8002, Flower 5552...);
# the reference on the same ports + 100 (8102, Flower 5652...). docs/maintainers.md shows this table.
REFERENCE_PORT_OFFSET = 100
CORNERS: dict[tuple[str, str], Corner] = {
    (c.lab_id, c.code): c
    for c in (
        Corner("01", "exercise", "lab01", 1, "lab01", 0, "lab01"),
        Corner("01", "solution", "lab01-reference", 5, "lab01_reference", REFERENCE_PORT_OFFSET, "lab01-ref"),
        Corner("02", "exercise", "lab02", 2, "lab02", 0, "lab02"),
        Corner("02", "solution", "lab02-reference", 6, "lab02_reference", REFERENCE_PORT_OFFSET, "lab02-ref"),
        Corner("03", "exercise", "lab03", 3, "lab03", 0, "lab03"),
        Corner("03", "solution", "lab03-reference", 7, "lab03_reference", REFERENCE_PORT_OFFSET, "lab03-ref"),
        Corner("04", "exercise", "lab04", 4, "lab04", 0, "lab04"),
        Corner("04", "solution", "lab04-reference", 8, "lab04_reference", REFERENCE_PORT_OFFSET, "lab04-ref"),
        # Lab 05 runs on `make cluster`'s servers: the same corners, on those nodes.
        Corner("05", "exercise", "lab05", 9, "lab05", 0, "lab05"),
        Corner("05", "solution", "lab05-reference", 10, "lab05_reference", REFERENCE_PORT_OFFSET, "lab05-ref"),
    )
}
# Every vhost the labs use (in RABBITMQ_VHOSTS below, which `make up` and compose create).
LAB_VHOSTS = tuple(corner.vhost for corner in CORNERS.values())


def corner(lab_id: str, code: str) -> Corner:
    """Where a lab's code runs. A code folder given as a path (--code PATH) runs in your corner;
    a lab missing from the table (a maintainer's new one) gets a corner named after it."""
    code = "solution" if code == "solution" else "exercise"
    if (lab_id, code) in CORNERS:
        return CORNERS[lab_id, code]
    if code == "solution":
        return Corner(
            lab_id,
            code,
            f"lab{lab_id}-reference",
            0,
            f"lab{lab_id}_reference",
            REFERENCE_PORT_OFFSET,
            f"lab{lab_id}-ref",
        )
    return Corner(lab_id, code, f"lab{lab_id}", 0, f"lab{lab_id}", 0, f"lab{lab_id}")


# The environment a learner's stack uses (also in .env.example).
LOCAL_ENV = {
    "MONGODB_URL": SERVICES["mongodb"].url,
    "MONGODB_DB": "queuelabs",
    "REDIS_URL": f"redis://{HOST}:6379/0",
    "CELERY_BROKER_URL": SERVICES["rabbitmq"].url,
    "CELERY_RESULT_BACKEND": f"redis://{HOST}:6379/0",
}

# Checkpoints never touch a learner's data: their own database, Redis index
# and RabbitMQ virtual host.
TEST_VHOST = "queuelabs-test"

# Every RabbitMQ virtual host the project uses, declared once (each lab's two corners, above,
# the checkpoints' and the room's). Adding one is
# one line here: `make up` creates them through the management API (natively and with
# Docker), and compose's RabbitMQ health check imports rabbitmq-definitions.json, which
# `python -m queuelabs.definitions` writes from this list (tests/test_compose.py says when to).
ROOM_VHOST = "queuelabs-room"  # the trainer's room, `make room` (queuelabs/room/)
RABBITMQ_VHOSTS = (*LAB_VHOSTS, TEST_VHOST, ROOM_VHOST)
TEST_ENV = {
    "MONGODB_URL": SERVICES["mongodb"].url,
    "MONGODB_DB": "queuelabs_test",
    "REDIS_URL": f"redis://{HOST}:6379/15",
    "CELERY_BROKER_URL": f"amqp://guest:guest@{HOST}:5672/{TEST_VHOST}",
    "CELERY_RESULT_BACKEND": f"redis://{HOST}:6379/15",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),  # lab 03: one random key per test run
}


def django_secret_key() -> str:
    """Lab 03's DJANGO_SECRET_KEY when none is set: random, made once per run folder, never committed.
    Every process of the lab reads the same one, so an admin login holds across gunicorn workers."""
    path = RUN_DIR / "django-secret-key"
    if not path.exists():
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


# Which environment variable holds each service's URL (see .env.example).
URL_VARIABLES = {"rabbitmq": "CELERY_BROKER_URL", "redis": "REDIS_URL", "mongodb": "MONGODB_URL"}


def service_url(name: str) -> str:
    """The URL of a service as this process is configured: the environment, else the local default."""
    return os.environ.get(URL_VARIABLES[name]) or LOCAL_ENV[URL_VARIABLES[name]]


def ensure_run_dirs() -> None:
    for path in (LOG_DIR, PID_DIR, DATA_DIR):
        path.mkdir(parents=True, exist_ok=True)
