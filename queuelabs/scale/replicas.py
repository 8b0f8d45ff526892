"""`make scale LAB=02 API=3 WORKERS=3`: nginx in front of N API replicas and N workers, natively.

The replicas are the lab's own declared processes (lab.toml), run from the
reference solution like `make labNN CODE=solution`: the `[lab] api` process N
times on consecutive free ports, the `worker` process N times (each with its
own Celery hostname, lab02-worker-2@host), and any other Celery worker of the
lab once (lab 03's emails worker). Beat and Flower are not started: one beat
per system (`make lab03` has it), and Flower is a tool, not a replica.

Every process is tracked by a pid file (.run/pids/lab02-api-2.pid), so
`make status` lists it and `make scale STOP=1` or `make down` stops it by pid.
Starting again with other numbers reshapes what runs: extra replicas are
stopped, missing ones started, nginx restarted with the new list.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .. import readiness, runner
from ..errors import LabError
from ..labs import Lab
from ..processes import http_status, pid_file, port_open, read_pid, start_detached, tracked_names
from ..settings import LOG_DIR, RUN_DIR
from ..waiting import WaitTimeout, wait_until
from .nginx import NginxSetup, write_config

PORT = 8080  # nginx, on 127.0.0.1 (the same port in compose's `scale` profile)
FOLDER = RUN_DIR / "scale"
STATE = FOLDER / "state.json"
# Per client address. `make loadtest` against nginx with the lab's defaults stays well below.
# A burst of up to half a second's worth is answered at once; past it, 429.
DEFAULT_RATE = 100
READY_TIMEOUT = 60.0


@dataclass(frozen=True)
class Replica:
    name: str  # lab02-api-2: its pid file, its log
    process: str  # the lab.toml process it runs
    number: int
    port: int | None = None


def first_ports(lab: Lab, count: int) -> list[int]:
    """`count` consecutive free ports: lab 02's replicas from 8021, lab 03's from 8031..."""
    start = 8001 + 10 * int(lab.id)
    while any(port_open(port) for port in range(start, start + count)):
        start += count
    return list(range(start, start + count))


def plan(lab: Lab, api: int, workers: int, kept_ports: dict[str, int] | None = None) -> list[Replica]:
    """The replicas wanted; API replicas that already run keep their ports, new ones get free ones."""
    if api < 1 or workers < 0:
        raise LabError(f"API must be 1 or more and WORKERS 0 or more (got API={api} WORKERS={workers})")
    kept_ports = kept_ports or {}
    names = [f"lab{lab.id}-{lab.api_process}-{n}" for n in range(1, api + 1)]
    fresh = iter(first_ports(lab, sum(name not in kept_ports for name in names)))
    replicas = [
        Replica(name, lab.api_process, n, kept_ports.get(name) or next(fresh)) for n, name in enumerate(names, 1)
    ]
    for process, declared in lab.processes.items():
        if declared.ready == "celery":
            count = workers if process == "worker" else min(workers, 1)
            replicas += [Replica(f"lab{lab.id}-{process}-{n}", process, n) for n in range(1, count + 1)]
    return replicas


def nginx_name(lab: Lab) -> str:
    return f"lab{lab.id}-nginx"


def read_state() -> dict | None:
    try:
        state = json.loads(STATE.read_text())
    except (OSError, ValueError):
        return None
    return state if read_pid(state.get("nginx", "")) else None


def _start(lab: Lab, replica: Replica, env: dict[str, str]) -> None:
    argv = runner.command_for(lab, replica.process, "solution", port=replica.port, replica=replica.number)
    # Each API replica names itself in the X-Instance response header (its INSTANCE_NAME).
    instance = {"INSTANCE_NAME": f"{replica.name}@{os.uname().nodename}"} if replica.port else {}
    start_detached(replica.name, argv, cwd=lab.solution_dir, env={**env, **instance})
    pid_file(replica.name).with_suffix(".code").write_text("solution")


def _ready(lab: Lab, replica: Replica, env: dict[str, str]) -> bool:
    if read_pid(replica.name) is None:
        raise LabError(f"{replica.name} exited during start-up: {runner.last_error(replica.name)}")
    if replica.port:
        return http_status(f"http://127.0.0.1:{replica.port}/", timeout=2) is not None
    hostname = runner.worker_hostname(lab, replica.process, "solution", replica.number)
    return readiness.worker_answers(env["CELERY_BROKER_URL"], hostname)


def start(
    lab: Lab,
    api: int,
    workers: int,
    *,
    rate: int = DEFAULT_RATE,
    burst: int | None = None,
    env: dict[str, str] | None = None,
    quiet: bool = False,
) -> NginxSetup:
    """Run nginx on 127.0.0.1:8080 in front of `api` replicas, and `workers` workers; wait until all answer."""
    if lab.api_process not in lab.processes:
        raise LabError(f"lab {lab.id} has no API to scale")
    env = env or runner.prepare_env(lab, "solution")
    state = read_state()
    keep = (
        {name for name in (state or {}).get("replicas", []) if read_pid(name)}
        if state and state["lab"] == lab.id
        else set()
    )
    stop(except_names=keep)  # nginx, and anything not kept (another lab's, or a leftover)
    if port_open(PORT):
        raise LabError(f"port {PORT} is taken by another program: stop it, then `make scale` again")
    kept_ports = {name: port for name, port in (state or {}).get("ports", {}).items() if name in keep}
    wanted = plan(lab, api, workers, kept_ports)
    _stop_all(keep - {r.name for r in wanted})
    started = [r for r in wanted if r.name not in keep]
    for replica in started:
        _start(lab, replica, env)
    try:
        wait_until(lambda: all(_ready(lab, r, env) for r in started), timeout=READY_TIMEOUT, interval=0.3)
    except WaitTimeout:
        late = [r.name for r in started if not _ready(lab, r, env)]
        raise LabError(
            f"not ready after {READY_TIMEOUT:g} s: {', '.join(late)} (see make logs NAME=lab{lab.id})"
        ) from None
    apis = tuple(r.port for r in wanted if r.port)
    burst = burst or max(1, rate // 2)
    setup = NginxSetup(lab.id, PORT, apis, rate, burst, FOLDER, LOG_DIR)
    start_detached(nginx_name(lab), write_config(setup), cwd=FOLDER, env=dict(os.environ))
    wait_until(lambda: _nginx_answers(lab, setup), timeout=15, interval=0.2, what="nginx to answer")
    STATE.write_text(
        json.dumps(
            {
                "lab": lab.id,
                "nginx": nginx_name(lab),
                "replicas": [r.name for r in wanted],
                "ports": {r.name: r.port for r in wanted if r.port},
                "rate": rate,
                "burst": burst,
            }
        )
    )
    if not quiet:
        for replica in wanted:
            where = (
                f"127.0.0.1:{replica.port}"
                if replica.port
                else runner.worker_hostname(lab, replica.process, "solution", replica.number)
            )
            print(f"{replica.name:<22} {'started' if replica in started else 'kept':<8} {where}")
    return setup


def _nginx_answers(lab: Lab, setup: NginxSetup) -> bool:
    if read_pid(nginx_name(lab)) is None:
        raise LabError(f"nginx exited at start-up: {runner.last_error('scale-nginx-error')}")
    return http_status(f"{setup.url}/health", timeout=3) is not None


def scale_names() -> list[str]:
    """Every process `make scale` may have started: lab02-nginx, lab02-api-1, lab03-worker-2..."""
    return [
        n for n in tracked_names() if n.endswith("-nginx") or (n.startswith("lab") and n.rsplit("-", 1)[-1].isdigit())
    ]


def stop(except_names: set[str] = frozenset()) -> list[str]:
    """Stop nginx first (no new requests), then the APIs, then the workers (warm shutdown)."""
    names = [n for n in scale_names() if n not in except_names]
    stopped = _stop_all([n for n in names if n.endswith("-nginx")])
    stopped += _stop_all([n for n in names if not n.endswith("-nginx") and "worker" not in n])
    stopped += _stop_all([n for n in names if "worker" in n])
    if not except_names:
        STATE.unlink(missing_ok=True)
    return stopped


def _stop_all(names) -> list[str]:
    """Stop these processes at once (each waits for its own warm shutdown); the names that were running."""
    names = sorted(names)
    with ThreadPoolExecutor(max_workers=max(len(names), 1)) as pool:
        return [name for name, was in zip(names, pool.map(runner.stop_process, names), strict=True) if was]


def status_lines() -> list[str]:
    """For `make status`: where nginx answers and what stands behind it."""
    state = read_state()
    if not state:
        return []
    apis = ", ".join(f"{name} :{port}" for name, port in state["ports"].items())
    workers = [n for n in state["replicas"] if n not in state["ports"]]
    return [
        f"Scale-out (make scale LAB={state['lab']}): http://127.0.0.1:{PORT} (nginx, pid {read_pid(state['nginx'])})",
        f"  API replicas   {apis}",
        f"  workers        {', '.join(workers) or 'none'}",
        f"  rate limit     {state['rate']} requests/s per client, bursts of {state['burst']}; "
        f"log .run/logs/scale-nginx-access.log",
    ]
