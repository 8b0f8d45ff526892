"""Warm processes between grading runs: `make check` and `make watch` reuse the API and worker of
the previous run when nothing they load has changed, instead of starting them again (most of a
one-exercise check used to be start-up).

Honest by construction:
- A parked process is reused only while every file it loaded is unchanged: at its start, the
  hash of each file of the graded code it loads (imports.py) is kept, with a fingerprint of the
  lab's manifest and the queuelabs package (`base_fingerprint`). A save restarts only the
  processes that load the saved file (lab 02: routes/ restart the API, not the worker); a saved
  file that declares queues or indexes (DECLARES) restarts them all, on a rebuilt test stack.
- Only one code folder's processes are ever parked, and only while no run uses the test stack: a
  run of other code (another lab, the solution, `make prove`'s starter and mutants, the platform's
  tests) stops every parked process first, so a parked worker never takes another run's tasks.
- A process is parked only when it ends its run healthy (alive, not frozen) and, for a worker,
  holding no unacknowledged task; it is reused only after it answers a real request again.

The registry (.run/warm/parked.json) is the one cache of processes that outlives a pytest run, on
purpose: within a run, pytest's fixtures and the lab's LabRun.keep (queuelabs/testing/plugin.py)
decide what lives how long; between runs only this file does, since each run is a new process.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psutil

from .imports import loaded_files
from .processes import ManagedProcess, kill_group, port_open
from .settings import REPO_ROOT, RUN_DIR, service_url

REGISTRY = RUN_DIR / "warm" / "parked.json"
# The services a grading run needs answered real requests this recently: the next run only checks
# that their ports still accept a connection (a full check costs seconds on a busy machine).
STACK_STAMP = RUN_DIR / "warm" / "services-answered.json"
RECENT_SECONDS = 60.0
DEFAULT_PORTS = {"rabbitmq": 5672, "redis": 6379, "mongodb": 27017}
# A process nobody reused for this long is stopped by the next run (or `make down`).
MAX_IDLE_SECONDS = 30 * 60
PACKAGE_DIR = REPO_ROOT / "queuelabs"


def base_fingerprint(code_dir: Path, manifest: Path) -> str:
    """What every process of a lab's graded code shares: the folder, its lab.toml and the platform."""
    digest = hashlib.sha256(str(code_dir.resolve()).encode())
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        if "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(PACKAGE_DIR)).encode())
            digest.update(path.read_bytes())
    digest.update(manifest.read_bytes())
    return digest.hexdigest()[:16]


# A file with one of these sets up the shared stack (queues and their arguments, indexes): a
# change to it rebuilds the test stack and restarts every process (see retire).
DECLARES = ("Queue(", "queue_arguments", "task_queues", "x-max-priority", "create_index", "declare")


def snapshot(code_dir: Path, words: list[str]) -> dict[str, list]:
    """Each file a process started with these words loads: [its hash, whether it DECLARES]."""
    files = {}
    for path in loaded_files(code_dir, words):
        data = path.read_bytes()
        text = data.decode(errors="replace")
        files[str(path.relative_to(code_dir))] = [
            hashlib.sha256(data).hexdigest()[:16],
            any(d in text for d in DECLARES),
        ]
    return files


def declared_by(code_dir: Path) -> str:
    """A digest of every file of the code that DECLARES, with its name: what the test stack was
    built from. It changes with any such file, whether or not a parked process loads it."""
    digest = hashlib.sha256()
    for path in sorted(code_dir.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        data = path.read_bytes()
        if any(d in data.decode(errors="replace") for d in DECLARES):
            digest.update(str(path.relative_to(code_dir)).encode())
            digest.update(data)
    return digest.hexdigest()[:16]


def changed_files(code_dir: Path, entry: dict) -> tuple[set[str], bool]:
    """What changed since a parked process started: the files, and whether one DECLARES (then or now)."""
    now = snapshot(code_dir, entry["words"])
    before = entry["files"]
    changed = {name for name in before.keys() | now.keys() if before.get(name, [None])[0] != now.get(name, [None])[0]}
    declares = any(before.get(name, [0, False])[1] or now.get(name, [0, False])[1] for name in changed)
    return changed, declares


@dataclass
class Parked:
    key: str
    base: str
    words: list[str]  # its command line and environment: what names the modules it loads
    files: dict[str, list]  # snapshot() at its start
    name: str
    pid: int
    created: float  # psutil's create_time: the same pid later reused by another program is not ours
    argv: list[str]
    cwd: str
    log_path: str
    port: int | None
    url: str | None
    worker_name: str | None
    parked_at: float


class _Adopted:
    """What ManagedProcess needs of a Popen, for a process started by an earlier run."""

    def __init__(self, pid: int):
        self.pid = pid

    def poll(self) -> int | None:
        return None if _alive(self.pid) else 0

    def wait(self, timeout: float | None = None) -> int:
        try:
            psutil.Process(self.pid).wait(timeout)
        except psutil.NoSuchProcess:
            pass
        except psutil.TimeoutExpired:
            raise subprocess.TimeoutExpired(str(self.pid), timeout or 0) from None
        return 0


def _alive(pid: int, created: float | None = None) -> bool:
    try:
        proc = psutil.Process(pid)
        return proc.status() not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD, psutil.STATUS_STOPPED) and (
            created is None or abs(proc.create_time() - created) < 0.01
        )
    except psutil.Error:
        return False


def _read() -> dict:
    try:
        return json.loads(REGISTRY.read_text())
    except (OSError, ValueError):
        return {"stack_prepared_by": None, "parked": []}


def _write(data: dict) -> None:
    REGISTRY.parent.mkdir(parents=True, exist_ok=True)
    tmp = REGISTRY.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(REGISTRY)


def _stop(entry: dict) -> None:
    """Stop a parked process (thawed first if a fault left it frozen), unless its pid is no longer it."""
    try:
        proc = psutil.Process(entry["pid"])
        if abs(proc.create_time() - entry["created"]) >= 0.01:
            return
        if proc.status() == psutil.STATUS_STOPPED:
            os.kill(entry["pid"], signal.SIGCONT)
    except psutil.Error:
        return
    kill_group(entry["pid"], timeout=10)


def retire(code_dir: Path | None, base: str | None) -> bool:
    """Before a run uses the test stack: stop every parked process this run cannot reuse: all of
    them for a run that keeps nothing warm (base None), for other code, or after a change to the
    platform, the manifest or a file that DECLARES; else those whose loaded files changed, or that
    idled too long. True when the rest may be reused on the test stack as they left it."""
    data = _read()
    # The stack as this code left it, declarations included: a declaring file saved since (queue
    # arguments, an index) rebuilds it even when no parked process loads that file (none may be
    # parked: a worker that ended busy is stopped).
    same = (
        base is not None
        and code_dir is not None
        and data.get("stack_prepared_by") == base
        and data.get("stack_declared") == declared_by(code_dir)
    )
    kept, rebuild = [], not same
    for entry in data["parked"] if same else ():
        changed, declares = changed_files(code_dir, entry) if code_dir and entry["base"] == base else ({"?"}, True)
        rebuild = rebuild or declares
        if not changed and time.time() - entry["parked_at"] < MAX_IDLE_SECONDS:
            kept.append(entry)
    if rebuild:
        kept = []
    for entry in data["parked"]:
        if entry not in kept:
            _stop(entry)
    prepared = {"stack_prepared_by": base, "stack_declared": data.get("stack_declared")} if not rebuild else {}
    _write({"stack_prepared_by": None, **prepared, "parked": kept})
    return not rebuild


def parked() -> list[dict]:
    """What is parked now: name, pid, fingerprint... of each process."""
    return _read()["parked"]


def stop_all() -> int:
    """`make down`: stop every parked process; how many were running."""
    data = _read()
    running = [entry for entry in data["parked"] if _alive(entry["pid"], entry["created"])]
    for entry in data["parked"]:
        _stop(entry)
    _write({"stack_prepared_by": None, "parked": []})
    return len(running)


def claim(key: str, env: dict[str, str]) -> tuple[ManagedProcess, str | None, tuple[list[str], dict]] | None:
    """The parked process of this key, taken out of the registry (the caller checks it answers)."""
    data = _read()
    found = next((entry for entry in data["parked"] if entry["key"] == key), None)
    if found is None:
        return None
    data["parked"].remove(found)
    _write(data)
    if not _alive(found["pid"], found["created"]):
        _stop(found)
        return None
    proc = ManagedProcess(
        found["name"], found["argv"], cwd=Path(found["cwd"]), env=env, log_path=Path(found["log_path"])
    )
    proc.proc = _Adopted(found["pid"])  # type: ignore[assignment]
    proc.port, proc.url = found["port"], found["url"]
    return proc, found["worker_name"], (found["words"], found["files"])


def park(proc: ManagedProcess, key: str, base: str, started: tuple[list[str], dict], worker_name: str | None) -> bool:
    """Keep `proc` running for the next run of the same code; `started`: its words and snapshot at start."""
    if proc.proc is None or not _alive(proc.pid):
        return False
    data = _read()
    entry = Parked(
        key=key,
        base=base,
        words=started[0],
        files=started[1],
        name=proc.name,
        pid=proc.pid,
        created=psutil.Process(proc.pid).create_time(),
        argv=proc.argv,
        cwd=str(proc.cwd),
        log_path=str(proc.log_path),
        port=proc.port,
        url=proc.url,
        worker_name=worker_name,
        parked_at=time.time(),
    )
    data["parked"] = [e for e in data["parked"] if e["key"] != key] + [asdict(entry)]
    _write(data)
    return True


def stack_prepared(base: str | None, code_dir: Path | None = None) -> None:
    """Record whose code declared the test stack's queues and indexes last, and from which files."""
    data = _read()
    data["stack_prepared_by"] = base
    data["stack_declared"] = declared_by(code_dir) if base is not None and code_dir is not None else None
    _write(data)


def record_answered(needs: tuple[str, ...] | list[str]) -> None:
    """The services in `needs` just answered a real request (and the test vhost exists)."""
    STACK_STAMP.parent.mkdir(parents=True, exist_ok=True)
    STACK_STAMP.write_text(json.dumps({"at": time.time(), "services": sorted(needs)}))


def answered_recently(needs: tuple[str, ...] | list[str]) -> bool:
    """True when every service in `needs` answered a real request less than RECENT_SECONDS ago and
    its port accepts a connection now: the cheap probe that replaces a full one."""
    if "cluster" in needs:  # lab 05: its checkpoints kill nodes; the full check (clients.down) is quick
        return False
    try:
        stamp = json.loads(STACK_STAMP.read_text())
    except (OSError, ValueError):
        return False
    if time.time() - stamp.get("at", 0) > RECENT_SECONDS or not set(needs) <= set(stamp.get("services", [])):
        return False
    for name in needs:
        parts = urlsplit(service_url(name))
        if not port_open(parts.port or DEFAULT_PORTS[name], parts.hostname or "127.0.0.1"):
            return False
    return True
