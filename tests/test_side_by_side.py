"""Labs side by side: labs 02, 03 and 04's references and a learner's lab 02, all running at once
through the real runner (`make labNN`), each in its own corner (settings.CORNERS).

Each lab answers the HTTP contract, no task runs on another lab's worker (counted in the workers'
logs), and the reference's GET /api/items never sees the learner's items. The corners are moved
onto test names (vhosts, databases, free ports) so a learner's running labs are never touched.
"""

import re
import subprocess
import uuid

import httpx
import pymongo
import pytest

from queuelabs import process_status, runner, settings
from queuelabs.isolation import delete_queues
from queuelabs.labs import find_lab
from queuelabs.probes import services_down
from queuelabs.processes import port_open, resolve
from queuelabs.settings import Corner
from queuelabs.testing import contract

# (lab, code): what runs at once. The learner's lab 02 is its reference copied into "your corner"
# (a code folder given as a path runs there), so its checks pass like finished work.
RUNS = [("02", "solution"), ("02", "exercise"), ("03", "solution"), ("04", "solution")]
TASKS_PER_LAB = 4


def _free_offset(ports: list[int]) -> int:
    """A shift that puts every declared port (8002, 5552...) on a free one."""
    for offset in range(20000, 40000, 1000):
        if not any(port_open(port + offset + extra) for port in ports for extra in (0, 100)):
            return offset
    raise AssertionError("no free range of ports for the labs side by side")


@pytest.fixture(scope="module")
def side_by_side(tmp_path_factory):
    monkeypatch = pytest.MonkeyPatch()
    labs = {lab_id: find_lab(lab_id) for lab_id, _ in RUNS}
    assert not (down := services_down(("rabbitmq", "redis", "mongodb"))), down
    run_dir = tmp_path_factory.mktemp("run")
    from queuelabs import processes

    for module, name in ((processes, "PID_DIR"), (processes, "LOG_DIR"), (process_status, "LOG_DIR")):
        monkeypatch.setattr(module, name, run_dir / name.lower())
    (run_dir / "pid_dir").mkdir()
    offset = _free_offset([p.port for lab in labs.values() for p in lab.processes.values() if p.port])
    for number, (lab_id, code) in enumerate(RUNS):
        real = settings.corner(lab_id, code)
        corner = Corner(
            lab_id,
            code,
            f"queuelabs-test-side-{real.vhost}",
            (9, 10, 11, 14)[number],  # Redis databases no lab, no other test and not the room use
            f"queuelabs_test_side_{real.mongodb_db}",
            offset + real.port_offset,
            real.prefix,
        )
        monkeypatch.setitem(settings.CORNERS, (lab_id, code), corner)
    monkeypatch.setenv("TASK_STEP_SECONDS", "0.1")  # progress is seen between steps
    monkeypatch.setenv("EMAIL_SECONDS", "0.05")
    urls = {}
    try:
        for lab_id, code in RUNS:
            lab = labs[lab_id]
            corner = lab.corner(code)  # fresh: no queue, item or collection of an earlier run
            delete_queues(lab.manifest.checkpoints.queues, vhost=corner.vhost)
            with pymongo.MongoClient(settings.service_url("mongodb"), serverSelectionTimeoutMS=5000) as mongo:
                mongo.drop_database(corner.mongodb_db)
            runner.start_lab(lab, code if code == "solution" else str(lab.solution_dir))
            urls[lab_id, code] = lab.url(code)
        yield labs, urls
    finally:
        for lab in labs.values():
            runner.stop_lab(lab)
        monkeypatch.undo()


def test_the_labs_run_side_by_side_and_answer_the_contract(side_by_side):
    labs, urls = side_by_side
    for (lab_id, code), url in urls.items():
        assert len(set(urls.values())) == len(urls), urls
        health = httpx.get(f"{url}/health", timeout=10)
        assert health.status_code == 200, f"lab {lab_id} ({code}) at {url}: {health.text}"
        if lab_id != "04":  # lab 04 submits payments, not lab 02's heavy task
            contract.check_status_reports_progress_then_success(url)
            contract.check_unknown_task_is_404(url)


def test_no_task_runs_on_another_labs_worker(side_by_side):
    labs, urls = side_by_side
    submitted: dict[tuple[str, str], set[str]] = {}
    for (lab_id, code), url in urls.items():
        if lab_id == "04":
            continue
        with contract.client(url) as http:
            ids = {
                contract.submit(http, data=f"{lab_id}-{code}", iterations=2)["task_id"] for _ in range(TASKS_PER_LAB)
            }
            for task_id in ids:
                assert contract.follow(http, task_id, timeout=60)[-1]["status"] == "SUCCESS"
        submitted[lab_id, code] = ids
    ran_by = {}  # task id -> the worker logs it was received in
    log_dir = process_status.LOG_DIR
    for path in log_dir.glob("*worker*.log"):
        for task_id in re.findall(r"Task [\w.]+\[([0-9a-f-]{36})\] received", path.read_text(errors="replace")):
            ran_by.setdefault(task_id, set()).add(path.stem)
    for (lab_id, code), ids in submitted.items():
        own = {f"{labs[lab_id].corner(code).prefix}-{p}" for p in labs[lab_id].processes if "worker" in p}
        strays = {task_id: ran_by.get(task_id) for task_id in ids if not ran_by.get(task_id, set()) <= own}
        assert not strays, f"lab {lab_id} ({code}): tasks ran on another lab's worker: {strays}"
        assert all(ran_by.get(task_id) for task_id in ids), f"lab {lab_id} ({code}): a task ran on no worker"


def test_the_reference_never_sees_the_learners_items(side_by_side):
    _, urls = side_by_side
    marker = f"learner-{uuid.uuid4().hex[:8]}"
    yours, reference = urls["02", "exercise"], urls["02", "solution"]
    created = httpx.post(f"{yours}/api/items", json={"name": marker, "description": "mine"}, timeout=10)
    assert created.status_code == 201, created.text
    assert marker in httpx.get(f"{yours}/api/items", timeout=10).text
    listed = httpx.get(f"{reference}/api/items", timeout=10)
    assert listed.status_code == 200, listed.text
    assert marker not in listed.text, "the reference reads the learner's database"


def test_lab03_migrate_once_the_lab_runs_has_nothing_to_apply(side_by_side):
    """Lab 03's lesson after `make demo`, which starts lab 03's reference as the runner does here
    (worker and beat included): its `make manage ARGS=migrate` answers that nothing is left to do.
    Before lab.toml's `prepare`, beat's first digest created jobs_digest ahead of the migration, and
    that migrate failed with `CollectionInvalid: collection jobs_digest already exists`. (One
    manage.py run, 3 to 6 s: the labs are already running for the tests above.)"""
    labs, _ = side_by_side
    lab = labs["03"]
    argv = resolve(["python", "manage.py", "migrate", "--no-input"])  # what `make manage` runs
    done = subprocess.run(
        argv,
        cwd=lab.code_dir("solution"),
        env=runner.lab_env(lab, "solution"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and "No migrations to apply" in done.stdout, done.stdout + done.stderr
