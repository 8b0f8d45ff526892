"""Fixtures for the platform's own tests."""

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from queuelabs import process_status, processes, starter
from queuelabs.isolation import delete_queues
from queuelabs.labs import find_lab, load_lab
from queuelabs.native import apt_install
from queuelabs.processes import kill_group
from queuelabs.settings import HOST, TEST_ENV, TEST_VHOST
from queuelabs.stack import ensure_test_vhost, ensure_vhost
from queuelabs.testing import notebooks
from queuelabs.testing.spawn import Spawner, lab_process_starter, live_processes
from queuelabs.waiting import eventually, wait_until

# pytester: the grader plugin's own tests run pytest on labs they write (tests/test_plugin.py).
pytest_plugins = ["pytester"]

# The toy lab is data for the grader tests, not part of this suite.
collect_ignore = ["toylab"]


def pytest_addoption(parser):
    parser.addoption("--docker", action="store_true", help="also run the tests that need a Docker engine")


def pytest_collection_modifyitems(config, items):
    """Tests marked docker need an engine: deselected (never run, never counted) unless --docker."""
    if config.getoption("--docker"):
        return
    needs_engine = [item for item in items if item.get_closest_marker("docker")]
    if needs_engine:
        config.hook.pytest_deselected(items=needs_engine)
        items[:] = [item for item in items if item not in needs_engine]


@pytest.fixture
def toy(tmp_path, request):
    """A copy of the toy lab with its starter generated: the grader's and the watcher's tests edit it freely."""
    shutil.copytree(request.path.parent / "toylab", tmp_path / "toylab", ignore=shutil.ignore_patterns("__pycache__"))
    lab = load_lab(tmp_path / "toylab")
    starter.write(lab)
    return lab


@pytest.fixture
def run_dir(tmp_path, monkeypatch):
    """The runner's pid files and logs, away from the learner's .run/."""
    monkeypatch.setattr(processes, "PID_DIR", tmp_path / "pids")
    monkeypatch.setattr(processes, "LOG_DIR", tmp_path / "logs")
    monkeypatch.setattr(process_status, "LOG_DIR", tmp_path / "logs")
    (tmp_path / "pids").mkdir()
    return tmp_path


def _solution_runner(config: pytest.Config):
    """start("02", "api", "worker") starts a lab's reference solution on free ports,
    isolated like the checkpoints, and returns {process: handle}; everything stops on close.
    Its processes join the run's live ones: a failed test names their logs."""
    spawners = []

    def start(lab_id: str, *processes: str, env: dict | None = None):
        lab = find_lab(lab_id)
        corner = {}
        if "rabbitmq" in lab.needs:
            assert ensure_test_vhost() is None
        if "cluster" in lab.needs:  # lab 05: the checkpoints' corner of `make cluster` (the caller runs it)
            from queuelabs.cluster import clients

            clients.ensure_vhost(TEST_VHOST)
            clients.fresh_test_corner(lab.manifest.checkpoints.queues)
            corner = clients.test_env()
        elif lab.manifest.checkpoints.queues:  # fresh queues: a starter run may have left old arguments
            delete_queues(lab.manifest.checkpoints.queues)
        env = {
            **os.environ,
            **TEST_ENV,
            **corner,
            **lab.manifest.checkpoints.env,
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        spawner = Spawner(lab.solution_dir, env, live=live_processes(config))
        spawners.append(spawner)
        starter = lab_process_starter(lab, spawner)
        return {name: starter(name, env=env) for name in processes}

    yield start
    for spawner in spawners:
        spawner.stop_all()


@pytest.fixture
def run_solution(request):
    """run_solution("02", "api", "worker"): a lab's reference for one test. Stopped after it,
    so no worker of an earlier test takes this test's tasks from the shared test vhost."""
    yield from _solution_runner(request.config)


@pytest.fixture(scope="module")
def run_solution_for_module(request):
    """The same as run_solution, for module-scoped fixtures: stopped when the module ends."""
    yield from _solution_runner(request.config)


@pytest.fixture
def run_notebook(request, run_solution, monkeypatch):
    """run_notebook("04-retries-idempotency.ipynb"): start what the notebook talks to (its lab's
    reference), then run it headless and check its figures (queuelabs/testing/notebooks.py)."""

    def run(name: str) -> None:
        lab_id, processes, env = notebooks.LABS[name]
        if lab_id == "02+03":  # lab 03's notebook: the same batch on lab 02's and lab 03's references
            for one, url in request.getfixturevalue("fastapi_and_django").items():
                monkeypatch.setenv(f"QUEUELABS_LAB{one}_URL", url)
            return notebooks.execute_and_check(name)
        if processes[0] == "downstream":  # labs 04, 05: the worker charges the payment service started first
            downstream = run_solution(lab_id, "downstream", env=env)["downstream"]
            env = {**env, "DOWNSTREAM_URL": downstream.url}
            monkeypatch.setenv("DOWNSTREAM_URL", downstream.url)
            processes = processes[1:]
        running = run_solution(lab_id, *processes, env=env)
        monkeypatch.setenv("QUEUELABS_API_URL", running[processes[0]].url)  # the kernel inherits this environment
        notebooks.execute_and_check(name)

    return run


# Labs 02 and 03 use the same queue and task names: side by side, each gets a vhost of its
# own, or each lab's worker would take the other's tasks. Lab 02's is not the shared test vhost
# either: these workers live for the whole module and would take later tests' tasks.
SIDE_BY_SIDE_VHOSTS = {"02": "queuelabs-test-lab02", "03": "queuelabs-test-lab03"}


@pytest.fixture(scope="module")
def fastapi_and_django(run_solution_for_module):
    """Labs 02 and 03's references running at once, each with its workers: {"02": url, "03": url}."""
    processes = {"02": ("api", "worker"), "03": ("api", "worker", "emails-worker")}
    urls = {}
    for lab_id, vhost in SIDE_BY_SIDE_VHOSTS.items():
        assert ensure_vhost(vhost) is None
        delete_queues(find_lab(lab_id).manifest.checkpoints.queues, vhost=vhost)
        env = {"TASK_STEP_SECONDS": "0.1", "CELERY_BROKER_URL": f"amqp://guest:guest@{HOST}:5672/{vhost}"}
        urls[lab_id] = run_solution_for_module(lab_id, *processes[lab_id], env=env)["api"].url
    return urls


class Chromium:
    """One headless Chromium driven through DevTools: `evaluate(url, expression, ready)` reads a page."""

    def __init__(self, executable: str, profile: Path):
        argv = [executable, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
        argv += ["--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"]
        # Its own process group: Chromium's helpers (zygote, renderers, crashpad) go with it.
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        port_file = profile / "DevToolsActivePort"
        wait_until(lambda: port_file.exists() and port_file.read_text().strip(), timeout=30, what="Chromium to start")
        self.endpoint = f"http://127.0.0.1:{port_file.read_text().split()[0]}"

    def evaluate(self, url: str, expression: str, ready, *, timeout: float = 30, interval: float = 0.2):
        """Open `url` in a new tab and evaluate the JavaScript `expression` there, again and again,
        until `ready(value)` holds; returns that value (a JSON-like Python value: returnByValue)."""
        tab = httpx.put(f"{self.endpoint}/json/new?{url}", timeout=10).json()
        try:
            with connect(tab["webSocketDebuggerUrl"], max_size=None) as ws:
                asked = 0

                def value():
                    nonlocal asked
                    asked += 1
                    params = {"expression": expression, "returnByValue": True}
                    ws.send(json.dumps({"id": asked, "method": "Runtime.evaluate", "params": params}))
                    while (answer := json.loads(ws.recv(timeout=10))).get("id") != asked:
                        pass  # an event, not our answer
                    found = answer.get("result", {}).get("result", {}).get("value")
                    return found if found is not None and ready(found) else None

                return wait_until(value, timeout=timeout, interval=interval, what=f"{url} to be ready")
        finally:
            httpx.get(f"{self.endpoint}/json/close/{tab['id']}", timeout=10)

    def rendered(self, url: str, until: str, timeout: float = 30) -> str:
        """The page's DOM, once `until` is in it."""
        return self.evaluate(url, "document.documentElement.outerHTML", lambda html: until in html, timeout=timeout)

    def close(self) -> None:
        """Stop the whole group and wait until none of it is left: a helper still alive
        writes into the profile while it is deleted ("Directory not empty", seen in CI)."""
        kill_group(self.proc.pid)
        self.proc.wait(timeout=10)
        eventually(lambda: not _group_alive(self.proc.pid), timeout=15)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def chromium():
    """Debian's headless chromium (installed by the project when missing, like RabbitMQ and Redis)."""
    if not shutil.which("chromium"):
        apt_install(["chromium"], then="run the tests again")
    # ignore_cleanup_errors: a leftover cache file must not fail the tests that already passed.
    with tempfile.TemporaryDirectory(prefix="queuelabs-chromium-", ignore_cleanup_errors=True) as profile:
        browser = Chromium(shutil.which("chromium"), Path(profile))
        try:
            yield browser
        finally:
            browser.close()
