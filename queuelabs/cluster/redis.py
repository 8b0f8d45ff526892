"""Redis with one replica and three Sentinels: Debian's redis-server, five times.

Each server reads a configuration file written on the first start only: when
the Sentinels promote the replica they rewrite the files (CONFIG REWRITE), so
a restart keeps the roles as they became, not as they began.
"""

from __future__ import annotations

import os

from ..errors import StackError
from ..processes import read_pid, start_detached, stop_detached
from ..settings import CLUSTER, CLUSTER_REDIS_MASTER_NAME, DATA_DIR
from ..waiting import WaitTimeout, wait_until
from .liveness import not_running
from .netns import ENABLED as NODES_ON_OWN_HOSTS
from .netns import address, inside

BASE = DATA_DIR / "cluster" / "redis"
# How long a primary may stay silent before the Sentinels call it down. Redis's default is
# 30 s; 5 s shows a failover while a learner watches, and still rides out a busy laptop.
DOWN_AFTER_MS = 5000
FAILOVER_TIMEOUT_MS = 15000
# Hosts of their own (netns.py): the servers and Sentinels talk over the namespaces' private
# bridge, not loopback, which protected mode refuses to a server without a password.
OWN_HOSTS = ["protected-mode no"] if NODES_ON_OWN_HOSTS else []
# And a replica on each of the two other hosts, with a primary that refuses writes once no replica
# has acknowledged it for MAX_LAG s: a primary cut off (or back from a cut, before the Sentinels
# demote it) answers NOREPLICAS instead of taking writes that its resync would throw away.
MAX_LAG = 5
SERVERS = (*CLUSTER.redis, CLUSTER.redis[-1] + 1) if NODES_ON_OWN_HOSTS else CLUSTER.redis
SERVER_OWN_HOSTS = (
    [*OWN_HOSTS, "min-replicas-to-write 1", f"min-replicas-max-lag {MAX_LAG}"] if NODES_ON_OWN_HOSTS else []
)


def host(port: int) -> str:
    """The address of the server or Sentinel on `port`: number N of either kind is node N's."""
    ports = SERVERS if port in SERVERS else CLUSTER.sentinel
    return address(ports.index(port) + 1)


# What clients give Celery or redis-py: every Sentinel, and the name of the primary they watch.
SENTINEL_URL = ";".join(f"sentinel://{host(port)}:{port}" for port in CLUSTER.sentinel)


def server_name(number: int) -> str:
    return f"cluster-redis-{number}"


def sentinel_name(number: int) -> str:
    return f"cluster-sentinel-{number}"


PORTS = {  # per process
    **{server_name(n): (port,) for n, port in enumerate(SERVERS, 1)},
    **{sentinel_name(n): (port,) for n, port in enumerate(CLUSTER.sentinel, 1)},
}


def _server_conf(number: int) -> str:
    port = SERVERS[number - 1]
    lines = [
        f"bind {host(port)}",
        f"port {port}",
        f"dir {BASE / f'server-{number}'}",
        "daemonize no",
        "appendonly yes",
        "appendfsync everysec",
        *SERVER_OWN_HOSTS,
    ]
    if number > 1:  # at first, the second server copies the first
        lines.append(f"replicaof {host(CLUSTER.redis[0])} {CLUSTER.redis[0]}")
    return "\n".join(lines) + "\n"


def _sentinel_conf(number: int) -> str:
    watched = CLUSTER_REDIS_MASTER_NAME
    first = CLUSTER.redis[0]
    return (
        f"bind {host(CLUSTER.sentinel[number - 1])}\n"
        f"port {CLUSTER.sentinel[number - 1]}\n"
        f"dir {BASE / f'sentinel-{number}'}\n"
        "daemonize no\n"
        # Two of the three Sentinels must agree that the primary is down before a failover.
        f"sentinel monitor {watched} {host(first)} {first} 2\n"
        f"sentinel down-after-milliseconds {watched} {DOWN_AFTER_MS}\n"
        f"sentinel failover-timeout {watched} {FAILOVER_TIMEOUT_MS}\n"
        f"sentinel parallel-syncs {watched} 1\n" + "".join(f"{line}\n" for line in OWN_HOSTS)
    )


def _start(name: str, number: int, folder_name: str, conf_text: str, *extra: str) -> bool:
    if read_pid(name) is not None:
        return False
    folder = BASE / folder_name
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / "redis.conf"
    if not conf.exists():  # written once: later, Sentinel's rewrites are the truth
        conf.write_text(conf_text)
    argv = inside(number, ["redis-server", str(conf), *extra])
    start_detached(name, argv, cwd=folder, env=dict(os.environ))
    return True


def start_all() -> list[str]:
    """Start whatever is not running; the names started now."""
    started = []
    for number in range(1, len(SERVERS) + 1):
        if _start(server_name(number), number, f"server-{number}", _server_conf(number)):
            started.append(server_name(number))
    for number in range(1, len(CLUSTER.sentinel) + 1):
        if _start(sentinel_name(number), number, f"sentinel-{number}", _sentinel_conf(number), "--sentinel"):
            started.append(sentinel_name(number))
    return started


def client(port: int, timeout: float = 1.0):
    import redis

    return redis.Redis(
        host=host(port), port=port, socket_timeout=timeout, socket_connect_timeout=timeout, decode_responses=True
    )


def replication(port: int) -> dict | None:
    """INFO replication of one server, or None when it does not answer."""
    import redis

    try:
        with client(port) as server:
            return server.info("replication")
    except redis.RedisError:
        return None


def sentinel_view(port: int) -> tuple[str, int] | None:
    """Where one Sentinel says the primary is, or None when it does not answer."""
    import redis

    try:
        with client(port) as sentinel:
            host, primary = sentinel.sentinel_get_master_addr_by_name(CLUSTER_REDIS_MASTER_NAME)
            return host, int(primary)
    except (redis.RedisError, TypeError, ValueError):
        return None


def primary_number() -> int | None:
    """The server (1, 2) the Sentinels name as the primary now, or None when none answers."""
    views = [view for port in CLUSTER.sentinel if (view := sentinel_view(port))]
    if not views or views[0][1] not in SERVERS:
        return None
    return SERVERS.index(views[0][1]) + 1


def not_settled() -> str | None:
    """None when every Sentinel names the same primary, knows the two other Sentinels and the
    replica, and the replica is linked to that primary; else what is still missing."""
    import redis

    views = {sentinel_view(port) for port in CLUSTER.sentinel}
    if len(views) != 1 or None in views:
        return f"the Sentinels do not agree on the primary yet ({views})"
    ((_, primary),) = views
    if (replication(primary) or {}).get("role") != "master":
        return f"{host(primary)}:{primary} is not a primary yet"
    for port in SERVERS:
        info = replication(port) or {}
        if port != primary and (info.get("master_port") != primary or info.get("master_link_status") != "up"):
            return f"the replica {host(port)}:{port} is not linked to {host(primary)}:{primary} yet"
    for port in CLUSTER.sentinel:
        try:
            with client(port) as sentinel:
                seen = sentinel.sentinel_master(CLUSTER_REDIS_MASTER_NAME)
        except redis.RedisError as exc:
            return f"the Sentinel on {host(port)}:{port} does not answer ({exc})"
        if seen.get("num-other-sentinels") != len(CLUSTER.sentinel) - 1 or seen.get("num-slaves") != len(SERVERS) - 1:
            return f"the Sentinel on {host(port)}:{port} does not know the other Sentinels and the replica yet"
    return None


def wait_settled(timeout: float) -> None:
    last = {"reason": ""}

    def settled() -> bool:
        last["reason"] = not_settled()
        return last["reason"] is None

    try:
        wait_until(settled, timeout=timeout, interval=0.5)
    except WaitTimeout:
        raise StackError(
            f"Redis and its Sentinels are not settled after {timeout:g} s: {last['reason']} "
            "(see .run/logs/cluster-redis-*.log and cluster-sentinel-*.log)"
        ) from None


def stop_all() -> list[str]:
    names = [sentinel_name(n) for n in (1, 2, 3)] + [server_name(n) for n in range(1, len(SERVERS) + 1)]
    return [name for name in names if stop_detached(name)]


def status_rows() -> list[tuple[str, str, str]]:
    rows = []
    for number, port in enumerate(SERVERS, 1):
        info = replication(port)
        if info is None:
            state = not_running(server_name(number), port, host(port)) or "not answering"
        elif info.get("role") == "master":
            state = f"master ({info.get('connected_slaves', 0)} replica linked)"
        else:
            state = f"replica of {info.get('master_host')}:{info.get('master_port')} (link {info.get('master_link_status')})"
        rows.append((f"Redis server {number}", f"{host(port)}:{port}", state))
    for number, port in enumerate(CLUSTER.sentinel, 1):
        view = sentinel_view(port)
        if view:
            state = f"says the primary is {view[0]}:{view[1]}"
        else:
            state = not_running(sentinel_name(number), port, host(port)) or "not answering"
        rows.append((f"Sentinel {number}", f"{host(port)}:{port}", state))
    return rows
