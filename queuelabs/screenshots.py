"""`make screenshots`: the UIs a trainer projects, captured while a load runs.

Starts the stack and lab 02's reference solution, fills the `reports` queue
with a batch of tasks, runs Locust's web UI with a load already started
(`--autostart`), waits for the charts to have a history, then takes one
screenshot per tab with Debian's headless Chromium (installed when missing,
like RabbitMQ and Redis) into docs/screenshots/. TRAINERS.md shows them.

Run it again after changing a UI-facing part (the Locust scenario, Flower,
the lab's API) so the pictures stay in step. Its one entry is `queuelabs dev screenshots`
(`make screenshots`), a click command like bench and chaos: this module has no `__main__`.
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import os
import random
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import httpx

from . import stack
from .labs import find_lab
from .loadtest import WEB_RUN_TIME
from .native import apt_install
from .processes import port_open
from .runner import start_lab
from .settings import (
    HOST,
    JUPYTER_PORT,
    LOCUST_PORT,
    LOG_DIR,
    RABBITMQ_MANAGEMENT_PORT,
    REPO_ROOT,
    RUN_DIR,
)

OUT = REPO_ROOT / "docs" / "screenshots"
WINDOW = "1280,800"
MAX_BYTES = 200_000
# What a trainer shows: `make demo BATCH=200` (200 one-step tasks of random priority, as the
# demo sends them: the queue is visibly full), then `make locust LAB=02`
# with its projector preset (lab.toml's web_users and web_spawn_rate), nothing else changed.
BATCH = 200
PRESET = find_lab("02").manifest.loadtest
USERS, RATE = PRESET.web_users or PRESET.users, PRESET.web_spawn_rate or PRESET.spawn_rate
# Before the first picture: the charts need a history, and the low-priority tasks the users follow
# give up after 60 s (LOADTEST_TASK_TIMEOUT) behind the backlog: Task round trips shows why.
LOAD_SECONDS = 75

LOCUST = f"http://{HOST}:{LOCUST_PORT}"
RABBITMQ = f"http://{HOST}:{RABBITMQ_MANAGEMENT_PORT}"
FLOWER = find_lab("02").url("solution", "flower")  # the reference's, which the pictures show
JUPYTER = f"http://{HOST}:{JUPYTER_PORT}"


def shots(api: str) -> list[tuple[str, str]]:
    """(file name, URL), in the order TRAINERS.md shows them."""
    return [
        ("locust-statistics.png", f"{LOCUST}/?tab=stats"),
        ("locust-charts.png", f"{LOCUST}/?tab=charts"),
        ("locust-round-trips.png", f"{LOCUST}/?tab=round-trips"),
        ("locust-failures.png", f"{LOCUST}/?tab=failures"),
        ("flower-workers.png", f"{FLOWER}/workers"),
        ("flower-tasks.png", f"{FLOWER}/tasks"),
        ("flower-broker.png", f"{FLOWER}/broker"),
        ("rabbitmq-queues.png", f"{RABBITMQ}/#/queues"),
        # Lab 01's Swagger UI: its assets are served locally, so it renders offline.
        ("api-docs.png", f"{find_lab('01').url('solution')}/docs"),
    ]


def _short_key(key: str) -> str:
    """The management UI's cookie key for a preference (its prefs.js: a 16-bit Java-style hash, in hex)."""
    value = 0
    for char in key:
        value = (31 * value + ord(char)) & 0xFFFFFFFF
    low = value & 0xFFFF
    return format(abs(low - 0x10000 if low & 0x8000 else low), "x")


@contextlib.contextmanager
def rabbitmq_login_cookie():
    """Log the management UI in as guest: it keeps its credentials in a cookie `m`, and
    cookies ignore ports, so a tiny local page on another port can set it."""
    token = urllib.parse.quote(base64.b64encode(b"guest:guest").decode(), safe="")
    cookie = f"m={_short_key('auth')}:{token}; Path=/; Max-Age=3600"

    class SetCookie(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self.send_response(200)
            self.send_header("Set-Cookie", cookie)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"logged in")

        def log_message(self, *args) -> None:
            pass

    server = http.server.HTTPServer((HOST, 0), SetCookie)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://{HOST}:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


def chromium() -> str:
    if not shutil.which("chromium"):
        apt_install(["chromium"], then="`make screenshots` again")
    return shutil.which("chromium") or "chromium"


def capture(browser: str, url: str, path: Path, *, budget_ms: int = 6000) -> None:
    profile = RUN_DIR / "screenshots-profile"  # one profile: the RabbitMQ login is remembered
    argv = [
        *(browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"),
        *(f"--window-size={WINDOW}", f"--virtual-time-budget={budget_ms}", f"--user-data-dir={profile}"),
        *(f"--screenshot={path}", url),
    ]
    subprocess.run(argv, capture_output=True, timeout=120, check=False)
    if not path.exists():
        raise SystemExit(f"chromium wrote no {path.name} for {url}")
    shrink(path)
    print(f"  {path.name}  {path.stat().st_size // 1024} KB  ({url})")


def shrink(path: Path) -> None:
    """A palette PNG when the picture is bigger than MAX_BYTES: UIs have few colours."""
    if path.stat().st_size <= MAX_BYTES:
        return
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=128)
    small.save(path, optimize=True)


def fill_the_queue(api: str) -> None:
    with httpx.Client(base_url=api, timeout=10) as client:
        for n in range(BATCH):
            body = {"data": f"screenshot {n}", "iterations": 1, "priority": random.choice(("low", "normal", "high"))}
            client.post("/api/async/process", json=body).raise_for_status()


def start_locust(api: str) -> subprocess.Popen:
    if port_open(LOCUST_PORT):
        raise SystemExit(f"port {LOCUST_PORT} is taken: stop the Locust web UI first")
    argv = [sys.executable, "-m", "locust", "-f", "lab02.py", "--host", api, "--web-host", HOST]
    argv += ["--web-port", str(LOCUST_PORT), "--autostart", "-u", str(USERS), "-r", str(RATE), "-t", WEB_RUN_TIME]
    log = open(LOG_DIR / "screenshots-locust.log", "w")  # noqa: SIM115 (closed with the process)
    env = dict(os.environ, QUEUELABS_API_URL=api, PYTHONUNBUFFERED="1") | PRESET.web_env
    return subprocess.Popen(argv, cwd=REPO_ROOT / "loadtest", env=env, stdout=log, stderr=subprocess.STDOUT)


def start_jupyter() -> subprocess.Popen | None:
    """JupyterLab on the notebooks, when installed (`make notebooks` installs it)."""
    binary = Path(sys.executable).parent / "jupyter-lab"
    if not binary.exists() or port_open(JUPYTER_PORT):
        return None
    argv = [str(binary), "--ip", HOST, "--port", str(JUPYTER_PORT), "--no-browser", "--IdentityProvider.token="]
    argv += ["--ServerApp.password=", "--allow-root", "notebooks/"]
    log = open(LOG_DIR / "screenshots-jupyter.log", "w")  # noqa: SIM115
    return subprocess.Popen(argv, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)


class QueueDepth:
    """RabbitMQ's ready messages in the reference's `reports` queue, read every few seconds in a
    thread: the run's summary shows whether the queue grew while the pictures were taken."""

    def __init__(self, vhost: str, every: float = 5.0):
        self.url = f"{RABBITMQ}/api/queues/{urllib.parse.quote(vhost, safe='')}/reports"
        self.every, self.readings = every, []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)

    def _read(self) -> None:
        while not self.stopped.wait(self.every):
            with contextlib.suppress(httpx.HTTPError, ValueError):
                reply = httpx.get(self.url, params={"columns": "messages_ready"}, auth=("guest", "guest"), timeout=5)
                self.readings.append(reply.json().get("messages_ready", 0))

    def __enter__(self) -> QueueDepth:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.thread.join(timeout=10)


def locust_summary() -> list[str]:
    """What the pictures show, in numbers: requests, failures (each distinct one), the API's p95.
    A picture of a Failures tab that is not empty is a retake to look into."""
    try:
        report = httpx.get(f"{LOCUST}/stats/requests", timeout=10).json()
    except (httpx.HTTPError, ValueError) as exc:
        return [f"Locust's statistics did not answer ({type(exc).__name__})"]
    total = report["stats"][-1]
    lines = [
        f"{total['num_requests']} requests, {total['num_failures']} failed "
        f"({100 * report.get('fail_ratio', 0):.1f}%), {report.get('user_count')} users"
    ]
    for row in report["stats"][:-1]:
        lines.append(
            f"  {row['method']:<5} {row['name']:<32} {row['num_requests']:>6} req {row['num_failures']:>4} failed"
            f"  median {row['median_response_time']:.0f} ms  max {row['max_response_time']:.0f} ms"
        )
    for error in report["errors"]:
        lines.append(f"  failure x{error['occurrences']}: {error['method']} {error['name']}: {error['error'][:200]}")
    return lines


def main() -> int:
    browser = chromium()
    stack.up()
    lab = find_lab("02")
    start_lab(lab, "solution")
    start_lab(find_lab("01"), "solution")
    api = lab.url("solution")
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"[screenshots] {BATCH} tasks queued, {USERS} Locust users (+{RATE}/s), {LOAD_SECONDS} s of load first")
    fill_the_queue(api)
    locust = start_locust(api)
    jupyter = start_jupyter()
    depth = QueueDepth(lab.corner("solution").vhost).__enter__()
    try:
        time.sleep(LOAD_SECONDS)
        with rabbitmq_login_cookie() as page:  # the one profile keeps the cookie for the next pictures
            capture(browser, page, RUN_DIR / "rabbitmq-login.png")
        for name, url in shots(api):
            capture(browser, url, OUT / name)
        if jupyter is not None:
            notebook = f"{JUPYTER}/lab/tree/02-fastapi-celery.ipynb"
            capture(browser, notebook, OUT / "jupyterlab-notebook.png", budget_ms=15000)
        else:
            print("  (JupyterLab not installed or port taken: run `make notebooks` once for its picture)")
        depth.__exit__()
        print(f"[screenshots] reports, ready messages every {depth.every:g} s: {', '.join(map(str, depth.readings))}")
        for line in locust_summary():
            print(f"[screenshots] Locust: {line}")
    finally:
        depth.stopped.set()
        for proc in (locust, jupyter):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)
    print("[screenshots] done; the lab keeps running (make lab02 CODE=solution STOP=1 stops it)")
    return 0
