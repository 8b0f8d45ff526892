"""Is a service answering? One bounded probe per service, shared by the CLI,
the checkpoints' preflight and the demo. Each returns None when the service
answers, or a short reason when it does not; none of them raises."""

from __future__ import annotations

from urllib.parse import urlsplit

from .settings import SERVICES, service_url

START_HINT = "start the stack with: make up"


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
    if name == "cluster":  # `make cluster` (lab 05): its own one-line answer, naming the part that is down
        from .cluster.clients import down

        return down()
    return PROBES[name](url or service_url(name), timeout)


def address(url: str) -> str:
    """host:port of a service URL, without the password."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def services_down(names, timeout: float = 2.0) -> list[str]:
    """One line per service in `names` that does not answer (empty when all do)."""
    return [
        reason if name == "cluster" else down_message(name, reason)
        for name in names
        if (reason := probe(name, timeout=timeout)) is not None
    ]


def down_message(name: str, reason: str | None = None, url: str | None = None) -> str:
    """The one line a learner reads when a service is missing."""
    why = f" ({reason})" if reason else ""
    where = address(url or service_url(name))
    return f"{SERVICES[name].title} is not answering on {where}{why}: {START_HINT}"


def _reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    lowered = text.lower()
    if "refused" in lowered:
        return "connection refused"
    if "timed out" in lowered or "timeout" in lowered:
        return "no answer before the time-out"
    if "access_refused" in lowered or "authentication" in lowered:
        return "login refused: check the user and password in the URL"
    return text.splitlines()[0][:120]
