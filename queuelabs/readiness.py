"""Is a lab's process ready? The one answer `make labNN` waits for natively (runner.py) and
compose's health checks ask in each lab container:

    python -m queuelabs.readiness 02 worker     exit 0 when ready, else one line on stderr

An HTTP process answers (any status: a 500 is a broken app, not a dead server); a Celery
worker answers a ping addressed to its own name; a process with nothing to ask (beat) has
stayed up past its start-up, and in a container beat has written its schedule file. Light on imports (no CLI, no stack): compose runs it every 10 s.
"""

from __future__ import annotations

import os
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

from .settings import LABS_DIR

# A crash at start-up (an import error, a refused connection) shows within this time.
STARTED_GRACE = 2.0


def home_page(port: int) -> str:
    """What an HTTP process is asked: any answer means ready (`make labNN`), a 5xx means broken (`make status`)."""
    return f"http://127.0.0.1:{port}/"


def answers_http(port: int, timeout: float = 2.0) -> bool:
    try:
        urllib.request.urlopen(home_page(port), timeout=timeout).close()
    except urllib.error.HTTPError:
        return True  # an answer, whatever its status
    except (OSError, ValueError):
        return False
    return True


def worker_answers(broker_url: str, hostname: str) -> bool:
    from celery import Celery

    app = Celery()
    # Celery's broker_url prefers a CELERY_BROKER_URL in the environment (.env's, or another lab's
    # vhost) over broker=; its read and write URLs, set here, come before both.
    app.conf.update(broker_read_url=broker_url, broker_write_url=broker_url)
    try:
        return bool(app.control.ping(destination=[hostname], timeout=1.0))
    except Exception:  # the broker not answering yet is "not ready", not a crash
        return False
    finally:
        app.close()


def ready(kind: str, *, port: int | None, broker_url: str, hostname: str, uptime: float) -> bool:
    """`kind` is lab.toml's `ready`: http, celery or started."""
    if kind == "http":
        return port is not None and answers_http(port)
    if kind == "celery":
        return worker_answers(broker_url, hostname)
    return uptime >= STARTED_GRACE


def in_this_container(lab_id: str, process: str) -> str | None:
    """The process `queuelabs run-process` started (pid 1's child, under compose's init), asked
    with its own settings: its broker URL and worker name. None when ready, else why not."""
    import psutil

    # lab.toml read as it is (manifest.py validates it; here a start-up in each check counts).
    [toml] = LABS_DIR.glob(f"{lab_id}-*/lab.toml")
    declared = tomllib.loads(toml.read_text())["processes"][process]
    kind, port = declared.get("ready", "started"), declared.get("port")  # manifest.Process's defaults
    started = psutil.Process(1).children() or [psutil.Process(1)]  # no init: it is pid 1
    target = started[0]
    names = [arg.split("=", 1)[1] for arg in target.cmdline() if arg.startswith("--hostname=")]
    # Its broker URL (the reference's vhost with QUEUELABS_CODE=solution), for Celery here too:
    # Celery reads CELERY_BROKER_URL from the environment before any broker= it is given.
    broker_url = os.environ["CELERY_BROKER_URL"] = target.environ().get("CELERY_BROKER_URL", "")
    if ready(
        kind,
        port=port,
        broker_url=broker_url,
        hostname=names[0] if names else "",
        uptime=time.time() - target.create_time(),
    ) and beat_schedule_written(target.cmdline(), since=target.create_time()):
        return None
    return f"lab {lab_id} {process}: not ready (ready = {kind!r} in lab.toml)"


def beat_schedule_written(argv: list[str], since: float) -> bool:
    """A beat given `--schedule FILE` (run-process does) has started once it has written that file:
    past its imports and Django's set-up, with its schedule open. True for any other process."""
    if "--schedule" not in argv:
        return True
    schedule = Path(argv[argv.index("--schedule") + 1])
    # Python's dbm may add a suffix (.db, .dat...).
    return any(written.stat().st_mtime >= since for written in schedule.parent.glob(f"{schedule.name}*"))


def worker_idle(broker_url: str, hostname: str) -> bool:
    """The worker runs and holds no task (a parked worker must not finish one into the next run)."""
    from celery import Celery

    app = Celery()
    app.conf.update(broker_read_url=broker_url, broker_write_url=broker_url)
    try:
        inspect = app.control.inspect(destination=[hostname], timeout=2.0)
        active, reserved = inspect.active() or {}, inspect.reserved() or {}
        return hostname in active and not active[hostname] and not reserved.get(hostname)
    except Exception:  # no answer: not fit to keep
        return False
    finally:
        app.close()


if __name__ == "__main__":
    problem = in_this_container(*sys.argv[1:3])
    if problem:
        sys.exit(problem)
