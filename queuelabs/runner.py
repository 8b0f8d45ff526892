"""Run a lab's declared processes (lab.toml) in the background: `make labNN`, the demo, load tests.

Each process is tracked by a pid file and logs to .run/logs/<lab>-<process>.log.
`make labNN` waits until every process is ready (its port answers HTTP, or the
worker answers a Celery ping) and says in one line when one died or its port
was taken. The learner's code reloads on save; the reference never does.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from urllib.parse import urlsplit, urlunsplit

from . import cluster, probes, stack
from .cluster import clients as cluster_clients
from .errors import LabError
from .labs import Lab
from .process_status import code_of, last_error
from .processes import (
    http_status,
    listener_of,
    lost_its_child,
    pid_file,
    port_open,
    read_pid,
    resolve,
    start_detached,
    stop_detached,
    supervised,
)
from .readiness import home_page as _home_page
from .readiness import ready
from .settings import LOCAL_ENV, RUN_DIR, django_secret_key
from .waiting import WaitTimeout, eventually, wait_until

# Patient: a lab starts all its processes at once, on a 2-core laptop that may be busy (a crash shows at once).
READY_TIMEOUT = 120.0


def lab_env(lab: Lab, code: str, *, native: bool = True) -> dict[str, str]:
    """The environment of a lab's processes: the servers' addresses from the environment (.env),
    and the lab's own corner of them (settings.CORNERS): its vhost, Redis database and MongoDB
    database, whatever .env says, so two labs, or your code and the reference, never share data.
    Natively, each process with a port is found at <NAME>_URL (lab 04's DOWNSTREAM_URL)."""
    corner = lab.corner(code)
    env = {**LOCAL_ENV, **os.environ, "PYTHONUNBUFFERED": "1", "QUEUELABS_CODE": code}
    env["MONGODB_DB"] = corner.mongodb_db
    env["REDIS_URL"] = _with_path(env["REDIS_URL"], f"/{corner.redis_db}")
    env["CELERY_RESULT_BACKEND"] = _with_path(env["CELERY_RESULT_BACKEND"], f"/{corner.redis_db}")
    env["CELERY_BROKER_URL"] = _with_path(env["CELERY_BROKER_URL"], f"/{corner.vhost}")
    if native:  # (compose names its containers, and its own DOWNSTREAM_URL)
        for process in lab.processes:
            if process != lab.api_process and lab.processes[process].port:
                env[f"{process.upper()}_URL"] = lab.url(code, process)
    env["DJANGO_SECRET_KEY"] = env.get("DJANGO_SECRET_KEY") or django_secret_key()  # lab 03; none committed
    if "cluster" in lab.needs:  # lab 05: every node of the cluster's servers, in the lab's corner of them
        env.update(cluster_clients.client_env(corner.vhost, corner.redis_db, corner.mongodb_db))
    return env


def _with_path(url: str, path: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=path))


def worker_hostname(lab: Lab, process: str, code: str, replica: int | None = None) -> str:
    """A worker's Celery name: lab02-worker@host (yours), lab02-ref-worker@host; replicas
    (`make scale`) are numbered: lab02-ref-worker-2@host."""
    return f"{lab.corner(code).prefix}-{process}{f'-{replica}' if replica else ''}@{os.uname().nodename}"


def command_for(
    lab: Lab, process: str, code: str, *, port: int | None = None, replica: int | None = None, reload: bool = True
) -> list[str]:
    """The argv `make labNN` runs: the declared command on the code's port, named, and reloading
    on save for the learner."""
    argv = lab.command(process, port=port or lab.port_of(process, code))
    declared = lab.processes[process]
    if declared.ready == "celery":
        argv.append(f"--hostname={worker_hostname(lab, process, code, replica)}")
    if reload and declared.reload and code == "exercise":
        if argv[0] == "uvicorn":
            argv += ["--reload"]
        elif argv[0] == "gunicorn":
            # gunicorn watches a module from its first check (once a second) after the import, and
            # Django imports urls.py and the views at the first request: a save in that second was
            # never seen. Every .py file of the code folder is watched from the start instead.
            argv += ["--reload", "--reload-extra-file=**/*.py"]
        else:  # a Celery worker has no reload of its own: restart it when a .py file changes
            argv = ["watchfiles", "--filter", "python", shlex.join(resolve(argv)), "."]
    return argv


def _ready(lab: Lab, process: str, code: str, env: dict[str, str], up_since: float) -> bool:
    """The same question compose's health checks ask (queuelabs/readiness.py), on the code's port."""
    declared = lab.processes[process]
    return ready(
        declared.ready,
        port=lab.port_of(process, code),
        broker_url=env["CELERY_BROKER_URL"],
        hostname=worker_hostname(lab, process, code),
        uptime=time.monotonic() - up_since,
    )


def prepare_env(lab: Lab, code: str) -> dict[str, str]:
    missing = [n for n in lab.needs if n != "cluster" and probes.probe(n, timeout=1.0)]
    if missing:
        stack.up(missing)
    if "cluster" in lab.needs:  # lab 05: `make cluster` starts it, or reuses it
        cluster.up()
        cluster_clients.ensure_vhost(lab.corner(code).vhost)
    if "rabbitmq" in lab.needs and (problem := stack.ensure_vhost(lab.corner(code).vhost)):
        print(f"note: {problem}")
    return lab_env(lab, code)


def _to_launch(lab: Lab, process: str, code: str) -> bool:
    """Whether a process must be (re)started: it does not run, or runs other code, or its code died."""
    name = lab.process_names_for(code)[process]
    running = code_of(name)
    pid = read_pid(name)
    stalled = pid is not None and lost_its_child(pid)
    if running == code and not stalled:
        print(f"{name:<16} already running from {running}/ (pid {pid})")
        return False
    if stalled:
        print(f"{name:<16} had stopped ({last_error(name)}): restarting it from {code}/")
    elif pid:
        print(f"{name:<16} was running {running}/: restarting it from {code}/")
    return True


def _check_ports(lab: Lab, processes: list[str], code: str) -> None:
    """Before anything starts: every port the lab's processes need is free (all or none start).
    Ours already running on it are stopped first: they are being restarted."""
    for process in processes:
        stop_detached(lab.process_names_for(code)[process])
    for process in processes:
        port = lab.port_of(process, code)
        if port and port_open(port):
            name = lab.process_names_for(code)[process]
            raise LabError(
                f"lab {lab.id} not started: {name} needs port {port}, held by {listener_of(port)} "
                "(stop that, or `make down`)"
            )


PREPARE_TIMEOUT = 180.0


def prepare(lab: Lab, code: str, env: dict[str, str]) -> None:
    """Run the lab's `prepare` commands (lab.toml) to completion; one line and nothing started if one fails."""
    for command in lab.manifest.lab.prepare:
        try:
            done = subprocess.run(
                resolve(shlex.split(command)),
                cwd=lab.code_dir(code),
                env=env,
                capture_output=True,
                text=True,
                timeout=PREPARE_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            raise LabError(f"lab {lab.id} not started: `{command}` did not finish in {PREPARE_TIMEOUT:g} s") from None
        if done.returncode != 0:
            lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]  # the error last
            raise LabError(f"lab {lab.id} not started: `{command}` failed: {(lines or ['no output'])[-1][:240]}")


def _launch(lab: Lab, process: str, code: str, env: dict[str, str]) -> None:
    name = lab.process_names_for(code)[process]
    port = lab.port_of(process, code)
    start_detached(name, command_for(lab, process, code), cwd=lab.code_dir(code), env=env)
    pid_file(name).with_suffix(".code").write_text(code)
    # `make status` asks an HTTP process for a page: a server that runs but answers 500 is broken.
    url_file = pid_file(name).with_suffix(".url")
    if lab.processes[process].ready == "http":
        url_file.write_text(_home_page(port))
    else:
        url_file.unlink(missing_ok=True)


def start_process(lab: Lab, process: str, code: str) -> None:
    """Start one of the lab's processes (`make start NAME=lab02-worker`) and wait until it is ready."""
    if _to_launch(lab, process, code):
        env = prepare_env(lab, code)
        _check_ports(lab, [process], code)
        _launch(lab, process, code, env)
        _wait_ready(lab, process, code, env)


def start_lab(lab: Lab, code: str) -> list[str]:
    """Start the lab's processes from `code` (exercise or solution), and wait until each is ready.

    Processes already running from the same code are kept; from other code they
    are restarted, so "your code" is never a lie. Returns the names started;
    raises LabError with one line when a process dies, its port is taken, or it
    is not ready in time."""
    started = [process for process in lab.processes if _to_launch(lab, process, code)]
    if not started:
        return []
    env = prepare_env(lab, code)
    _check_ports(lab, started, code)
    prepare(lab, code, env)
    for process in started:
        _launch(lab, process, code, env)
    for process in started:
        _wait_ready(lab, process, code, env)
    _wait_healthy(lab, code)
    return [lab.process_names_for(code)[p] for p in started]


HEALTHY_TIMEOUT = 30.0


def _wait_healthy(lab: Lab, code: str) -> None:
    """Let the API's first GET /health be right: its clients connect on their first use, and on a
    busy laptop that first check ran out of time and named every service down. Asked here, after
    every process is ready, until it says healthy; a 404 or 501 (no /health yet) ends the wait."""
    url = f"{lab.url(code)}/health"
    if not eventually(lambda: http_status(url, timeout=5.0) != 503, timeout=HEALTHY_TIMEOUT, interval=1.0):
        api = lab.process_names_for(code)[lab.api_process]
        print(f"{api}: GET /health still answers 503 after {HEALTHY_TIMEOUT:g} s; `make status` says what is down")


CHILDLESS_SECONDS = 3.0  # a reloader starts your code within a second; still none after this: it died


def _wait_ready(lab: Lab, process: str, code: str, env: dict[str, str]) -> None:
    name = lab.process_names_for(code)[process]
    up_since = time.monotonic()
    # Your code runs under a reloader, which outlives it: a crash shows as its child gone.
    reloads = lab.processes[process].reload and code == "exercise"
    ran = False  # the reloader has run your code

    def why() -> str:
        return last_error(name, lab.code_dir(code))

    def ready() -> bool:
        nonlocal ran
        pid = read_pid(name)
        if pid is None:
            raise LabError(f"{name} exited during start-up: {why()} (log: .run/logs/{name}.log)")
        if reloads and supervised(pid):
            ran = True
        elif reloads and (ran or time.monotonic() - up_since > CHILDLESS_SECONDS):  # (it may die unseen)
            raise LabError(
                f"{name} crashed during start-up: {why()} "
                f"(log: .run/logs/{name}.log; it starts again when you save a fix)"
            )
        return _ready(lab, process, code, env, up_since)

    try:
        wait_until(ready, timeout=READY_TIMEOUT, interval=0.3)
    except WaitTimeout:
        raise LabError(f"{name} was not ready after {READY_TIMEOUT:g} s: {why()} (log: .run/logs/{name}.log)") from None
    print(f"{name:<16} ready ({' '.join(lab.command(process, port=lab.port_of(process, code)))})")


def stop_process(name: str) -> bool:
    """Stop one tracked process (`lab02-worker`); True if it was running."""
    stopped = stop_detached(name)
    for suffix in (".code", ".url"):
        pid_file(name).with_suffix(suffix).unlink(missing_ok=True)
    return stopped


def stop_lab(lab: Lab) -> list[str]:
    """Stop every process of the lab: your code's and the reference's."""
    return [name for name in lab.all_process_names if stop_process(name)]


def run_in_foreground(lab: Lab, process: str) -> None:
    """Replace this process with one of the lab's (docker compose runs each service this way)."""
    code = os.environ.get("QUEUELABS_CODE", "exercise")
    # No reload inside a container, and the ports compose publishes (the declared ones).
    argv = resolve(command_for(lab, process, code, port=lab.processes[process].port, reload=False))
    os.chdir(lab.code_dir(code))
    env = lab_env(lab, code, native=False)
    if process == lab.api_process:  # one container runs the lab's prepare commands: the API's
        prepare(lab, code, env)
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    if "beat" in argv:  # labs/ is mounted read-only: beat keeps its schedule file in the run folder,
        # even before the learner's settings name one (Celery's default is the code folder).
        argv += ["--schedule", str(RUN_DIR / f"lab{lab.id}-{code}-celerybeat-schedule")]
    # The same corners as natively (compose's RabbitMQ creates every lab's vhost).
    os.execvpe(argv[0], argv, env)
