"""`make labNN` reloads your code on save: the API under uvicorn --reload (labs 01, 02, 04)
or gunicorn --reload (lab 03), the worker under watchfiles.

The real runner starts a lab's processes from a copy of its reference (as the
learner's exercise/ folder, the code that reloads), on a free port, on the test
stack in a vhost of its own. The test then edits what a route answers and what
the worker computes, and the running processes pick both up: the test never
restarts them.
"""

import shutil
import time

import httpx
import psutil
import pytest

from queuelabs import readiness, runner, settings
from queuelabs.errors import LabError
from queuelabs.isolation import delete_queues, rabbitmq_api
from queuelabs.labs import find_lab, load_lab
from queuelabs.probes import services_down
from queuelabs.processes import free_port, read_pid
from queuelabs.settings import TEST_ENV, Corner
from queuelabs.stack import ensure_vhost
from queuelabs.testing import contract
from queuelabs.waiting import WaitTimeout, wait_until

RELOAD_VHOST = "queuelabs-test-reload"  # its worker takes no task of another test run


@pytest.fixture
def lab_copy(tmp_path, run_dir, monkeypatch):
    """lab_copy("02"): the lab with its reference as the learner's code, its API on a free port, on the test stack."""
    copies = []

    def copy(lab_id: str):
        source = find_lab(lab_id)
        assert not (down := services_down(source.needs)), down
        assert ensure_vhost(RELOAD_VHOST) is None
        folder = tmp_path / source.name
        folder.mkdir()
        manifest = (source.dir / "lab.toml").read_text()
        (folder / "lab.toml").write_text(manifest.replace(f"port = {source.port}", f"port = {free_port()}"))
        shutil.copytree(source.solution_dir, folder / "exercise", ignore=shutil.ignore_patterns("__pycache__"))
        for name, value in {**TEST_ENV, **source.manifest.checkpoints.env}.items():
            monkeypatch.setenv(name, value)
        # The lab's corner (its vhost, Redis and MongoDB databases) on the test stack, never a learner's.
        corner = Corner(lab_id, "exercise", RELOAD_VHOST, 15, TEST_ENV["MONGODB_DB"], 0, f"lab{lab_id}")
        monkeypatch.setitem(settings.CORNERS, (lab_id, "exercise"), corner)
        delete_queues(source.manifest.checkpoints.queues, vhost=RELOAD_VHOST)
        copies.append(load_lab(folder))
        return copies[-1]

    yield copy
    for lab in copies:  # stopped by pid, with every child: nothing is left
        started = [pid for name in lab.process_names.values() if (pid := read_pid(name))]
        family = [p for pid in started for p in psutil.Process(pid).children(recursive=True)]
        runner.stop_lab(lab)
        gone, alive = psutil.wait_procs(family, timeout=10)
        assert not alive, f"still running after the lab was stopped: {alive}"
        delete_queues(lab.manifest.checkpoints.queues, vhost=RELOAD_VHOST)


def edit(path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path.name} no longer holds {old!r}: update this test"
    path.write_text(text.replace(old, new))


def preview_of_a_report(http: httpx.Client, data: str) -> str:
    task = contract.submit(http, data=data, iterations=1)
    return contract.follow(http, task["task_id"])[-1]["result"]["preview"]


def test_a_save_reloads_the_api_and_restarts_the_worker(lab_copy):
    lab02 = lab_copy("02")
    runner.start_process(lab02, "api", "exercise")
    runner.start_process(lab02, "worker", "exercise")
    api_pid, watcher_pid = read_pid("lab02-api"), read_pid("lab02-worker")
    assert "watchfiles" in " ".join(psutil.Process(watcher_pid).cmdline()), "the worker does not run under watchfiles"
    [worker] = psutil.Process(watcher_pid).children()  # the celery worker that watchfiles runs
    base = f"http://127.0.0.1:{lab02.port}"
    with httpx.Client(base_url=base, timeout=10) as http:
        assert "reloaded" not in http.get("/").json()
        assert preview_of_a_report(http, "Before the save") == "BEFORE THE SAVE"

        code = lab02.exercise_dir / "app"
        edit(code / "main.py", '"docs": "/docs", ', '"docs": "/docs", "reloaded": "yes", ')
        edit(code / "services.py", '"preview": data[:60].upper(),', '"preview": data[:60].lower(),')

        wait_until(lambda: http.get("/").json().get("reloaded") == "yes", timeout=30, what="the API to reload")

        def worker_restarted() -> bool:
            children = psutil.Process(watcher_pid).children()
            return bool(children) and children[0].pid != worker.pid

        wait_until(worker_restarted, timeout=30, what="watchfiles to restart the worker")
        broker, name = (
            runner.lab_env(lab02, "exercise")["CELERY_BROKER_URL"],
            runner.worker_hostname(lab02, "worker", "exercise"),
        )
        wait_until(lambda: readiness.worker_answers(broker, name), timeout=30, what="the new worker to answer a ping")
        assert preview_of_a_report(http, "After the save") == "after the save"
    assert (read_pid("lab02-api"), read_pid("lab02-worker")) == (api_pid, watcher_pid), "the test restarted nothing"
    assert not worker.is_running(), "the old worker is gone"


def _home_page(http: httpx.Client) -> dict:
    """The API's home page, or {} while a reloading worker does not answer yet (a request that
    reaches a worker as it restarts can wait out the client's time limit: not yet, not a failure)."""
    try:
        return http.get("/").json()
    except httpx.TransportError:
        return {}


def test_a_save_reloads_lab_03s_api_under_gunicorn(lab_copy, run_dir):
    lab03 = lab_copy("03")
    runner.start_process(lab03, "api", "exercise")
    master = read_pid("lab03-api")
    assert "--reload" in psutil.Process(master).cmdline()
    with httpx.Client(base_url=f"http://127.0.0.1:{lab03.port}", timeout=10) as http:
        assert "reloaded" not in http.get("/").json()
        # A gunicorn worker starts watching files only once it has loaded the app: save only after
        # both have answered (X-Instance names the process; a new connection each time, as one kept
        # alive always reaches the same worker), or a save during a slow boot is missed.
        seen: set[str] = set()
        wait_until(
            lambda: seen.add(httpx.get(f"{http.base_url}", timeout=10).headers["X-Instance"]) or len(seen) >= 2,
            timeout=60,
            interval=0.05,
            what="both gunicorn workers to answer",
        )
        urls = lab03.exercise_dir / "config/urls.py"
        edit(urls, '"docs": "/docs", ', '"docs": "/docs", "reloaded": "yes", ')
        saved = time.monotonic()

        def reloaded() -> bool:
            """Two gunicorn workers answer in turn: each must have reloaded. gunicorn's reloader
            notes each file's time on its first pass, a thread that runs beside the worker's
            first requests: on a busy machine a save can come before that pass and go unseen.
            A learner then saves again; so does the test, every 20 s (the lesson says so)."""
            nonlocal saved
            if all(_home_page(http).get("reloaded") == "yes" for _ in range(6)):
                return True
            if time.monotonic() - saved > 20:
                urls.touch()
                saved = time.monotonic()
            return False

        try:  # each reloaded worker loads Django and the publish path again: slow on a busy machine
            wait_until(reloaded, timeout=90, what="gunicorn's workers to reload")
        except WaitTimeout:
            log = (run_dir / "logs/lab03-api.log").read_text(errors="replace").splitlines()
            print("gunicorn's own account:", *[line for line in log if "orker" in line][-20:], sep="\n")
            raise
    assert read_pid("lab03-api") == master, "the test restarted nothing"


# --- a crash under the reloader: `make labNN` says so at once, with the log's reason ----


def test_make_lab_reports_a_worker_that_dies_under_watchfiles(lab_copy):
    """After 2.7 the worker died at start (an old `reports` queue without x-max-priority)
    while `make lab02` said it started: the reloader outlives the worker it runs."""
    lab02 = lab_copy("02")
    old_queue = rabbitmq_api("PUT", f"/queues/{RELOAD_VHOST}/reports", json={"durable": True, "arguments": {}})
    assert old_queue.status_code in (201, 204), old_queue.text
    with pytest.raises(LabError) as crash:
        runner.start_process(lab02, "worker", "exercise")
    message = str(crash.value)
    assert "\n" not in message
    assert "lab02-worker crashed during start-up" in message and "PRECONDITION_FAILED" in message
    assert read_pid("lab02-worker"), "watchfiles still waits for a fix"


def test_make_lab_reports_an_api_that_cannot_import_your_code(lab_copy):
    lab02 = lab_copy("02")
    main = lab02.exercise_dir / "app/main.py"
    line, text = next((n, t) for n, t in enumerate(main.read_text().splitlines(), 1) if t.startswith("app = FastAPI("))
    edit(main, text, text.removesuffix(")"))  # the parenthesis never closed
    with pytest.raises(LabError) as crash:
        runner.start_process(lab02, "api", "exercise")
    message = str(crash.value)
    assert "\n" not in message
    assert "lab02-api crashed during start-up: " in message
    assert f"exercise/app/main.py:{line}  SyntaxError: '(' was never closed" in message
