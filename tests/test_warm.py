"""Warm grading (queuelabs/warm.py): `make check` reuses the last run's API and worker while the
files each loads are unchanged, and never a process that runs stale code. Real lab 02 processes on the
real stack, in pytest subprocesses, as `make check` runs them."""

import os
import shutil
import subprocess

import pytest

from queuelabs import warm
from queuelabs.checkpoint_runs import checkpoint_argv
from queuelabs.labs import find_lab
from queuelabs.settings import REPO_ROOT

CHECKPOINT = "test_contract.py::test_submit_answers_202_at_once_with_location"  # exercise 2.3: api and worker
GOOD = 'response.headers["Location"] = STATUS_PATH.format(task_id=task_id)'
BROKEN = 'response.headers["Location"] = "/wrong/" + task_id'


def check(lab, code) -> str:
    argv = checkpoint_argv(lab, str(code), warm=True)
    argv[argv.index(str(lab.checkpoints_dir.relative_to(REPO_ROOT)))] = str(lab.checkpoints_dir / CHECKPOINT)
    # As a learner's make check runs: not inside a test (a grading run inside one never parks).
    env = {name: value for name, value in os.environ.items() if name != "PYTEST_CURRENT_TEST"}
    done = subprocess.run(
        argv + ["--tb=line", "-rN"], capture_output=True, text=True, cwd=REPO_ROOT, timeout=600, env=env
    )
    return done.stdout + done.stderr


def parked_pids(code) -> dict[str, int]:
    return {entry["name"]: entry["pid"] for entry in warm.parked() if entry["cwd"] == str(code)}


@pytest.mark.timeout(1500)  # five checks of lab 02, each waiting its turn for the test stack
def test_an_unchanged_check_reuses_the_processes_and_an_edit_restarts_what_loads_it(tmp_path):
    lab = find_lab("02")
    code = tmp_path / "code"
    shutil.copytree(lab.solution_dir, code, ignore=shutil.ignore_patterns("__pycache__"))
    routes, services = code / "app/api/routes/tasks.py", code / "app/services.py"
    assert GOOD in routes.read_text(), "the reference changed: update this test's edit"
    try:
        first = check(lab, code)
        assert "PASS  2.3" in first, first
        cold = parked_pids(code)
        assert set(cold) == {"api", "worker"}, f"nothing parked after a clean run: {warm.parked()}"

        second = check(lab, code)
        assert "PASS  2.3" in second, second
        assert parked_pids(code) == cold, "the same code started its processes again instead of reusing them"

        routes.write_text(routes.read_text() + "\n# a save in a file only the API loads\n")
        third = check(lab, code)
        assert "PASS  2.3" in third, third
        after_routes = parked_pids(code)
        assert after_routes["api"] != cold["api"], "the API kept running the old routes"
        assert after_routes["worker"] == cold["worker"], "the worker, which never loads routes/, was restarted"

        services.write_text(services.read_text() + "\n# a save in a file the worker loads\n")
        fourth = check(lab, code)
        assert "PASS  2.3" in fourth, fourth
        assert parked_pids(code)["worker"] != cold["worker"], "the worker kept running the old services.py"

        # Last, since a failed check may leave its task running and then stops the busy worker:
        # a wrong answer saved now is graded on the next check, not the code the API started with.
        routes.write_text(routes.read_text().replace(GOOD, BROKEN))
        fifth = check(lab, code)
        assert "FAIL  2.3" in fifth, f"the edit was not graded (the API ran the old code):\n{fifth}"
    finally:
        warm.stop_all()
