"""RabbitMQ's virtual hosts and permissions, as RabbitMQ definitions, from settings.RABBITMQ_VHOSTS.

One declaration, applied the same way by both stacks, and applied again and again: importing
definitions creates what is missing and sets each permission even when it exists, so a vhost
whose permissions were lost is repaired by the next `make up` (natively) or the next health
check (compose imports FILE every 10 s). Nothing is ever deleted.

    python -m queuelabs.rabbitmq_definitions    rewrite FILE after changing RABBITMQ_VHOSTS
"""

from __future__ import annotations

import json

from .settings import RABBITMQ_MANAGEMENT_PORT, RABBITMQ_VHOSTS, REPO_ROOT

# Mounted into compose's RabbitMQ. It names the user `guest`; compose's health check
# puts RABBITMQ_DEFAULT_USER in its place when .env changes the user.
FILE = REPO_ROOT / "queuelabs" / "rabbitmq-definitions.json"
USER = "guest"


def definitions(user: str = USER) -> dict:
    """Each vhost, and full permissions on it for the labs' user."""
    return {
        "vhosts": [{"name": vhost} for vhost in RABBITMQ_VHOSTS],
        "permissions": [
            {"user": user, "vhost": vhost, "configure": ".*", "write": ".*", "read": ".*"} for vhost in RABBITMQ_VHOSTS
        ],
    }


def as_file() -> str:
    return json.dumps(definitions(), indent=2) + "\n"


def apply(user: str = USER, password: str = "guest") -> str | None:
    """Import the definitions through the management API. Returns a one-line problem, or None."""
    import httpx

    url = f"http://127.0.0.1:{RABBITMQ_MANAGEMENT_PORT}/api/definitions"
    try:
        httpx.post(url, json=definitions(user), auth=(user, password), timeout=10).raise_for_status()
    except httpx.HTTPError as exc:
        # A system-wide RabbitMQ (reused, not ours) often runs without the management plugin.
        return (
            f"the management API on port {RABBITMQ_MANAGEMENT_PORT} could not create the vhosts "
            f"{', '.join(RABBITMQ_VHOSTS)} ({type(exc).__name__}); if RabbitMQ is your system's service, "
            "enable the plugin with `sudo rabbitmq-plugins enable rabbitmq_management`"
        )
    return None


if __name__ == "__main__":
    FILE.write_text(as_file())
    print(f"wrote {FILE.relative_to(REPO_ROOT)}: {', '.join(RABBITMQ_VHOSTS)}")
