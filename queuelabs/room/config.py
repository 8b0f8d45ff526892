"""Where the room keeps its state, and the limits it holds every learner to.

The room runs on the course's own stack, in a corner no lab uses: its own
RabbitMQ vhost, MongoDB database and Redis index (docs/maintainers.md lists
who uses which), so a trainer can run a room and every lab at once.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

from ..settings import ROOM_VHOST, service_url

VHOST = ROOM_VHOST
MONGODB_DB = "queuelabs_room"
REDIS_INDEX = 12
PORT = 8090

# Limits per learner: a laptop that sends garbage or loops must not take the room down.
MAX_BODY_BYTES = 64 * 1024  # a batch of 50 results fits in about 25 KiB
MAX_RESULTS_PER_POST = 50
POSTS_PER_WINDOW = 20  # per learner, per RATE_WINDOW_SECONDS: the sender posts about once a second
JOINS_PER_WINDOW = 10  # per client address
RATE_WINDOW_SECONDS = 10
MAX_NAME = 40
MAX_ERROR = 300


def _with_path(url: str, path: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=path))


def defaults() -> dict[str, str]:
    """The room's corner of the stack. Each can be overridden from the environment (the tests
    run a room of their own beside a trainer's)."""
    return {
        "ROOM_MONGODB_URL": service_url("mongodb"),
        "ROOM_MONGODB_DB": MONGODB_DB,
        "ROOM_REDIS_URL": _with_path(service_url("redis"), f"/{REDIS_INDEX}"),
        "ROOM_BROKER_URL": _with_path(service_url("rabbitmq"), f"/{VHOST}"),
    }


def environment() -> dict[str, str]:
    """What the room's processes are given: the environment's values, else the defaults."""
    return {name: os.environ.get(name) or default for name, default in defaults().items()}


def setting(name: str) -> str:
    return environment()[name]


def vhost() -> str:
    return urlsplit(setting("ROOM_BROKER_URL")).path.lstrip("/") or "/"
