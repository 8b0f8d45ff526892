"""Nothing the project starts listens beyond this machine: every listening socket is on loopback.

The local defaults (guest/guest, no TLS, no passwords on Redis and MongoDB)
are acceptable only because nothing is reachable from another machine. This
test lists the listening sockets of every process the project starts, the
native stack's servers (with their children, and Erlang's port mapper epmd,
which RabbitMQ starts as a daemon of its own) and a running lab (its API,
worker and Flower), and fails on any address that is not loopback.
"""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

import psutil
import pytest

from queuelabs.processes import read_pid
from queuelabs.settings import SERVICES

EPMD_PORT = 4369


EPHEMERAL_PORTS = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])


def family(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def listening(procs: list[psutil.Process]) -> list[tuple[str, str, int]]:
    """(process name, address, port) of every TCP socket in LISTEN and every UDP service socket."""
    found = []
    for proc in procs:
        try:
            name = proc.name()
            for conn in proc.net_connections(kind="inet"):
                # An unconnected UDP socket on an ephemeral port is a client's (Erlang's DNS
                # resolver opens one): a UDP service binds a port of its own below that range.
                is_udp_service = conn.type == socket.SOCK_DGRAM and conn.laddr and conn.laddr.port < EPHEMERAL_PORTS
                if conn.laddr and (conn.status == psutil.CONN_LISTEN or is_udp_service):
                    found.append((f"{name} (pid {proc.pid})", conn.laddr.ip, conn.laddr.port))
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def epmd() -> list[psutil.Process]:
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == EPMD_PORT and conn.pid:
            return [psutil.Process(conn.pid)]
    return []


def not_loopback(sockets: list[tuple[str, str, int]]) -> list[str]:
    return [
        f"{who} listens on {ip}:{port}"
        for who, ip, port in sockets
        if not ipaddress.ip_address(ip.split("%")[0]).is_loopback
    ]


def test_the_native_stack_listens_on_loopback_only():
    pids = [pid for name in SERVICES if (pid := read_pid(name)) is not None]
    if not pids:
        pytest.skip("the stack does not run natively here (Docker publishes on 127.0.0.1, see docker-compose.yml)")
    procs = [proc for pid in pids for proc in family(pid)] + epmd()
    sockets = listening(procs)
    ports = {port for _, _, port in sockets}
    assert {service.port for service in SERVICES.values()} <= ports, f"expected the services' ports among {sockets}"
    wrong = not_loopback(sockets)
    assert not wrong, "reachable from other machines:\n" + "\n".join(wrong)


def test_a_running_lab_listens_on_loopback_only(run_solution):
    started = run_solution("02", "api", "worker", "flower")
    procs = [proc for handle in started.values() for proc in family(handle.pid)]
    sockets = listening(procs)
    assert {started["api"].port, started["flower"].port} <= {port for _, _, port in sockets}, sockets
    wrong = not_loopback(sockets)
    assert not wrong, "reachable from other machines:\n" + "\n".join(wrong)
