"""Is a service answering? One bounded probe per service, shared by the CLI,
the checkpoints' preflight and the demo. Each returns None when the service
answers, or a short reason when it does not; none of them raises."""

from __future__ import annotations

import socket

from .settings import SERVICES

START_HINT = "start the stack with: make up"


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def probe_rabbitmq(url: str, timeout: float = 2.0) -> str | None:
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=timeout) as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
        return None
    except Exception as exc:  # any failure means "not answering"; say why
        return _reason(exc)


def probe_redis(url: str, timeout: float = 2.0) -> str | None:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        client.ping()
        client.close()
        return None
    except Exception as exc:
        return _reason(exc)


def probe_mongodb(url: str, timeout: float = 2.0) -> str | None:
    from pymongo import MongoClient

    ms = int(timeout * 1000)
    try:
        with MongoClient(url, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms) as client:
            client.admin.command("ping")
        return None
    except Exception as exc:
        return _reason(exc)


PROBES = {"rabbitmq": probe_rabbitmq, "redis": probe_redis, "mongodb": probe_mongodb}


def probe(name: str, url: str | None = None, timeout: float = 2.0) -> str | None:
    return PROBES[name](url or SERVICES[name].url, timeout)


def down_message(name: str, reason: str | None = None) -> str:
    """The one line a learner reads when a service is missing."""
    svc = SERVICES[name]
    why = f" ({reason})" if reason else ""
    return f"{svc.title} is not answering on 127.0.0.1:{svc.port}{why}: {START_HINT}"


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:120]
