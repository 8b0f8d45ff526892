"""`make room` (the trainer), `make join` and `make leave` (a learner)."""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import socket
from urllib.parse import urlsplit

import click

from .. import processes
from ..errors import LabError
from ..probes import services_down
from ..settings import REPO_ROOT
from ..stack import ensure_vhost
from ..waiting import WaitTimeout, wait_until
from . import config, outbox

API, WORKER, SENDER = "room-api", "room-worker", "room-sender"
CODE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, no 1/I: read aloud or from the back row


def lan_address() -> str | None:
    """The address this machine reaches the network with (connecting a UDP socket picks the
    route and sends nothing), or None without a route out."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: any routed address would do
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if ipaddress.ip_address(address).is_loopback else address


def own_address(address: str) -> str:
    """ADDR must be one of this machine's addresses, and one address: never 0.0.0.0."""
    try:
        if ipaddress.ip_address(address).is_unspecified:
            raise LabError(f"ADDR={address} would open the room on every network: give the LAN address")
        with socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET) as sock:
            sock.bind((address, 0))
    except ValueError:
        raise LabError(f"ADDR={address} is not an IP address (e.g. ADDR=192.168.1.20)") from None
    except OSError:
        raise LabError(f"ADDR={address} is not an address of this machine (`ip -brief address` lists them)") from None
    return address


def open_room(database, *, new: bool) -> dict:
    """The room's code and trainer key, kept in MongoDB: a restart keeps both (and every result)."""
    room = database.rooms.find_one({"_id": "room"})
    if room is None or new:
        for collection in ("learners", "results"):
            database[collection].drop()
        room = {"_id": "room", "code": "".join(secrets.choice(CODE_LETTERS) for _ in range(6))}
        room["trainer_key"] = secrets.token_urlsafe(12)
        database.rooms.replace_one({"_id": "room"}, room, upsert=True)
    database.learners.create_index("token", unique=True)
    return room


def stop_room() -> bool:
    processes.pid_file(API).with_suffix(".url").unlink(missing_ok=True)
    return any([processes.stop_detached(API, timeout=5), processes.stop_detached(WORKER)])


def room_environment() -> dict[str, str]:
    """The stack's addresses for the room; no CELERY_* variable of a lab leaks into its worker."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CELERY_")}
    return {**env, **config.environment(), "PYTHONUNBUFFERED": "1"}


def start_room(address: str, port: int) -> None:
    env, cwd = room_environment(), REPO_ROOT
    worker = ["celery", "-A", "queuelabs.room.worker", "worker", "-Q", "room", "--concurrency", "1"]
    processes.start_detached(WORKER, [*worker, "-n", "room@%h", "--loglevel", "INFO"], cwd=cwd, env=env)
    server = ["uvicorn", "queuelabs.room.app:app", "--host", address, "--port", str(port)]
    processes.start_detached(API, [*server, "--timeout-graceful-shutdown", "2"], cwd=cwd, env=env)
    processes.pid_file(API).with_suffix(".url").write_text(f"http://{address}:{port}")  # for `make status`
    url = f"http://{address}:{port}/api/summary"
    try:
        wait_until(lambda: processes.http_status(url, timeout=2) == 200, timeout=60, what="the room to answer")
    except WaitTimeout:
        stop_room()
        log = processes.LOG_DIR / f"{API}.log"
        raise LabError(f"the room did not start in 60 s: see {log} and {processes.LOG_DIR / WORKER}.log") from None


@click.command()
@click.option("--addr", default=None, help="the LAN address to serve on (default: the one with a route out)")
@click.option("--port", default=config.PORT, show_default=True)
@click.option("--new", is_flag=True, help="a new room: new code, no learners, no results")
@click.option("--stop", is_flag=True, help="stop the room (its results stay in MongoDB)")
def room(addr: str | None, port: int, new: bool, stop: bool) -> None:
    """Trainers: the whole workshop live on one page (learners `make join`)."""
    if stop:
        click.echo("room stopped (results kept: `make room` opens it again)" if stop_room() else "no room running")
        return
    address = own_address(addr) if addr else lan_address()
    if address is None:
        raise LabError("no LAN address: connect to the room's Wi-Fi, or give one: make room ADDR=192.168.1.20")
    if down := services_down(["mongodb", "redis", "rabbitmq"]):
        raise LabError(down[0])
    if problem := ensure_vhost(config.vhost()):
        raise LabError(problem)
    from pymongo import MongoClient

    with MongoClient(config.setting("ROOM_MONGODB_URL"), serverSelectionTimeoutMS=5000) as client:
        opened = open_room(client[config.setting("ROOM_MONGODB_DB")], new=new)
    stop_room()  # a room already open restarts, on the address asked for now
    start_room(address, port)
    url = f"http://{address}:{port}"
    click.echo(f"Room open on {url}   code {opened['code']}")
    click.echo(f"  learners:   make join ROOM={url} CODE={opened['code']} NAME=<your name>")
    click.echo(f"  trainer:    {url}/?key={opened['trainer_key']}   (with names: keep this address to yourself)")
    click.echo(f"  projector:  {url}/   (no names)")
    click.echo(f"Only port {port} on {address} is open to the network; the stack stays on 127.0.0.1.")
    click.echo("make room STOP=1 closes it; its results stay (make room NEW=1 starts an empty one).")


def join_room(room_url: str, code: str, name: str) -> dict:
    import httpx

    try:
        reply = httpx.post(f"{room_url}/api/join", json={"code": code, "name": name}, timeout=5)
    except httpx.HTTPError as exc:
        raise LabError(
            f"the room at {room_url} does not answer ({type(exc).__name__}): check the address on the "
            "trainer's screen and that you are on the same network"
        ) from None
    if reply.status_code != 201:
        try:
            why = reply.json()["detail"]
        except (ValueError, KeyError, TypeError):
            why = f"HTTP {reply.status_code}"
        raise LabError(f"the room refused to let you join: {why}")
    return reply.json()


@click.command()
@click.option("--room", "room_url", required=True, help="the room's address, as `make room` printed it")
@click.option("--code", required=True, help="the room code on the trainer's screen")
@click.option("--name", required=True, help="your name, as the trainer will see it")
def join(room_url: str, code: str, name: str) -> None:
    """Send each `make check` and `make watch` grade to the trainer's room."""
    room_url = room_url.strip().rstrip("/")
    if not room_url or not code.strip() or not name.strip():
        raise LabError("make join ROOM=http://192.168.1.20:8090 CODE=ABC123 NAME=<your name>: all three are needed")
    if urlsplit(room_url).scheme not in ("http", "https") or not urlsplit(room_url).hostname:
        raise LabError(f"ROOM={room_url} is not the room's address: copy it from the trainer's screen (http://...)")
    joined = join_room(room_url, code.strip().upper(), name.strip())
    processes.stop_detached(SENDER, timeout=5)
    outbox.forget()  # grades of an earlier room are not this room's business
    outbox.ROOM_DIR.mkdir(parents=True, exist_ok=True)
    membership = {"room": room_url, "code": code.strip().upper(), "name": joined["name"], "token": joined["token"]}
    outbox.MEMBERSHIP.write_text(json.dumps(membership))
    outbox.MEMBERSHIP.chmod(0o600)  # the token lets whoever holds it write your rows
    processes.start_detached(SENDER, ["python", "-m", "queuelabs.room.sender"], cwd=REPO_ROOT, env=dict(os.environ))
    click.echo(f"Joined the room at {room_url} as {joined['name']}.")
    click.echo("From now on each `make check` and `make watch` sends, per exercise: its id, PASS/FAIL/TODO,")
    click.echo("the first line of the error, and the time. Nothing else. Grading never waits for the room.")
    click.echo("`make leave` stops it.")


@click.command()
def leave() -> None:
    """Stop sending grades to the room."""
    running = processes.stop_detached(SENDER, timeout=5)
    kept = outbox.undelivered()
    was_in = outbox.membership() is not None
    outbox.forget()
    if not (running or was_in):
        click.echo("not in a room")
        return
    click.echo(
        "Left the room: your grades are no longer sent." + (f" ({kept} not delivered were dropped)" if kept else "")
    )


def status_lines() -> list[str]:
    """For `make status`: the room's processes on a trainer's machine, the sender on a learner's."""
    lines = []
    if any(processes.read_pid(name) for name in (API, WORKER)):
        lines.append("Room (`make room`, STOP=1 stops it):")
        where = processes.pid_file(API).with_suffix(".url")
        address = where.read_text() if where.exists() else ""
        for name in (API, WORKER):
            lines.append(f"  {name:<12} {'running' if processes.read_pid(name) else 'NOT RUNNING'}  {address}".rstrip())
            address = ""
    if membership := outbox.membership():
        sending = "sending" if processes.read_pid(SENDER) else "NOT sending (`make join` again)"
        waiting = outbox.undelivered()
        lines.append(
            f"Room: joined {membership['room']} as {membership['name']}, {sending}, {waiting} grade(s) waiting"
        )
    return lines


COMMANDS = [room, join, leave]
