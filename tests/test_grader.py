"""The grader plugin, run for real in a pytest subprocess on the toy lab."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from queuelabs.labs import find_lab
from queuelabs.log_excerpts import first_error
from queuelabs.settings import REPO_ROOT
from queuelabs.testing.grading import exercise_status


def grade(lab, code, tmp_path, *extra):
    report = tmp_path / "grade.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "queuelabs.testing.plugin",
            str(lab.checkpoints_dir),
            "--code",
            code,
            "--grade-json",
            str(report),
            "-p",
            "no:cacheprovider",
            *extra,
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    return done, json.loads(report.read_text())


def test_untouched_starter_reads_not_started(toy, tmp_path):
    """99.2's starter runs (a STARTER body, no NotImplementedError) and fails its test: untouched, it is still TODO."""
    done, report = grade(toy, "exercise", tmp_path)
    assert done.returncode == 1
    assert report["99.1"]["status"] == "not started"
    assert report["99.2"]["status"] == "not started"
    assert "Exercise 99.1 not started: edit " in done.stdout and "TODO Exercise 99.1" in done.stdout
    assert "Traceback" not in done.stdout
    assert "0 of 2 exercises complete" in done.stdout
    assert "Hint: Return the sum of a and b." in done.stdout
    assert "make hint EX=99.1" in done.stdout


def test_an_untouched_exercise_is_not_run_unless_asked(toy, tmp_path):
    """make check: a checkpoint of an exercise not started is not run (lab 04's would wait out its
    stalls); make prove runs it anyway (--run-untouched), since it must really fail on the starter."""
    _, report = grade(toy, "exercise", tmp_path)
    assert report["99.2"]["status"] == "not started"
    assert report["99.2"]["tests"][0]["why"] == "Exercise 99.2 is not done yet", report["99.2"]
    _, report = grade(toy, "exercise", tmp_path, "--run-untouched")
    assert report["99.2"]["status"] == "not started"
    assert "goodbye" in report["99.2"]["tests"][0]["why"], "the starter's own answer, so the test ran"


def test_solution_passes_everything(toy, tmp_path):
    done, report = grade(toy, "solution", tmp_path)
    assert done.returncode == 0, done.stdout
    assert {ex: r["status"] for ex, r in report.items()} == {"99.1": "passed", "99.2": "passed"}
    assert "2 of 2 exercises complete" in done.stdout
    assert "grading the reference solution" in done.stdout


def test_a_half_done_exercise_fails_with_what_is_still_missing(toy, tmp_path):
    maths = toy.exercise_dir / "toy/maths.py"
    text = maths.read_text()
    start = text.index("    # TODO Exercise 99.2")
    end = text.index("\n\n", start) if "\n\n" in text[start:] else len(text)
    maths.write_text(text[:start] + '    return "Hi"  # started, not right yet' + text[end:])
    done, report = grade(toy, "exercise", tmp_path)
    assert report["99.2"]["status"] == "failed", done.stdout
    assert "FAIL  99.2" in done.stdout and "still missing:" in done.stdout


def test_a_syntax_error_is_reported_once_with_its_line(toy, tmp_path):
    maths = toy.exercise_dir / "toy/maths.py"
    maths.write_text(maths.read_text() + "\ndef broken(:\n")
    done, _ = grade(toy, "exercise", tmp_path)
    assert done.returncode == 1
    assert done.stdout.count("SyntaxError") == 1 and "toy/maths.py, line" in done.stdout
    assert "def broken(:" in done.stdout and "Traceback" not in done.stdout
    assert len(done.stdout.splitlines()) < 30
    next_line = next(line for line in done.stdout.splitlines() if line.startswith("Next:"))
    assert "toy/maths.py, line" in next_line, f"Next: must point at the error, not at an exercise: {next_line}"


def test_solving_one_exercise_moves_the_count(toy, tmp_path):
    maths = toy.exercise_dir / "toy/maths.py"
    maths.write_text(maths.read_text().replace('raise NotImplementedError("Exercise 99.1', 'return a + b  # ("'))
    done, report = grade(toy, "exercise", tmp_path)
    assert report["99.1"]["status"] == "passed"
    assert "1 of 2 exercises complete" in done.stdout
    assert "Next: exercise 99.2" in done.stdout


@pytest.mark.parametrize(
    "records, status",
    [
        ([], "no checkpoints"),
        ([{"outcome": "passed", "not_started": False}], "passed"),
        ([{"outcome": "failed", "not_started": True}], "not started"),
        ([{"outcome": "passed", "not_started": False}, {"outcome": "failed", "not_started": True}], "failed"),
        ([{"outcome": "skipped", "not_started": False}], "incomplete"),
    ],
)
def test_status_rules(records, status):
    assert exercise_status(records) == status


def test_the_learners_exception_in_a_server_log_shows_under_the_fail_row(tmp_path):
    """Lab 02's 2.3 with a bug (a URL object as a header value): the API answers 500, and the
    table names the file, the line and the exception that only the API's log holds."""
    lab = find_lab("02")
    code = tmp_path / "code"
    shutil.copytree(lab.solution_dir, code, ignore=shutil.ignore_patterns("__pycache__"))
    routes = code / "app/api/routes/tasks.py"
    text = routes.read_text()
    good = 'response.headers["Location"] = STATUS_PATH.format(task_id=task_id)'
    assert good in text, "the reference changed: update this test's bug"
    text = text.replace(good, 'response.headers["Location"] = URL(STATUS_PATH.format(task_id=task_id))')
    text = text.replace(
        "from __future__ import annotations\n",
        "from __future__ import annotations\n\nfrom starlette.datastructures import URL\n",
        1,
    )
    routes.write_text(text)
    line = next(n for n, source in enumerate(text.splitlines(), 1) if "= URL(" in source)
    test = lab.checkpoints_dir / "test_contract.py::test_submit_answers_202_at_once_with_location"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(test), f"--code={code}", "--tb=no", "-rN", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert "FAIL  2.3" in done.stdout, done.stdout
    rows = done.stdout.split("FAIL  2.3", 1)[1].splitlines()[:3]
    raised = next((row for row in rows if "your code raised:" in row), "")
    assert f"app/api/routes/tasks.py:{line}  AttributeError: 'URL' object has no attribute 'encode'" in raised, rows
    assert "Traceback" not in done.stdout


NEVER_AWAITED_LOG = """INFO:     127.0.0.1:5000 - "POST /api/async/process HTTP/1.1" 500 Internal Server Error
{code}/app/services.py:41: RuntimeWarning: coroutine 'remember_submission' was never awaited
  services.remember_submission(redis, task_id)
"""
GROUP_LOG = """ERROR:    Exception in ASGI application
  + Exception Group Traceback (most recent call last):
  |   File "/venv/site-packages/starlette/middleware/base.py", line 190, in __call__
  |     async with anyio.create_task_group() as task_group:
  | ExceptionGroup: unhandled errors in a TaskGroup (1 sub-exception)
  +-+---------------- 1 ----------------
    | Traceback (most recent call last):
    |   File "/venv/site-packages/fastapi/routing.py", line 300, in app
    |     raw_response = await run_endpoint_function(
    |   File "{code}/app/api/routes/tasks.py", line 52, in enqueue
    |     task_id = uuid4() + 1
    |               ~~~~~~~~^~~
    | TypeError: unsupported operand type(s) for +: 'UUID' and 'int'
    +------------------------------------
"""
OUTSIDE_FIRST_LOG = """Traceback (most recent call last):
  File "/venv/site-packages/uvicorn/server.py", line 10, in serve
ConnectionResetError: peer went away
Traceback (most recent call last):
  File "{code}/app/tasks.py", line 7, in run
    raise ValueError("bad")
ValueError: bad
"""


@pytest.mark.parametrize(
    "log, expected",
    [
        (NEVER_AWAITED_LOG, "app/services.py:41  RuntimeWarning: coroutine 'remember_submission' was never awaited"),
        (GROUP_LOG, "app/api/routes/tasks.py:52  TypeError: unsupported operand type(s) for +: 'UUID' and 'int'"),
        (OUTSIDE_FIRST_LOG, "app/tasks.py:7  ValueError: bad"),
    ],
)
def test_first_error_of_the_learners_code_in_a_log(tmp_path, log, expected):
    where = lambda path: str(Path(path).relative_to(tmp_path))  # noqa: E731
    assert first_error(log.format(code=tmp_path), tmp_path, where) == expected
    assert first_error(log.format(code="/elsewhere"), tmp_path, where) is None


PROVOKED_FIRST_LOG = """Traceback (most recent call last):
  File "{code}/app/services.py", line 113, in process_data
    raise ValueError("iterations must be between 1 and 1000, not 0")
ValueError: iterations must be between 1 and 1000, not 0
Traceback (most recent call last):
  File "{code}/app/api/routes/tasks.py", line 120, in get_task_status
    return TaskStatus(**answr)
NameError: name 'answr' is not defined
"""


def test_an_error_the_checkpoint_provoked_is_not_the_learners(tmp_path):
    where = lambda path: str(Path(path).relative_to(tmp_path))  # noqa: E731
    log = PROVOKED_FIRST_LOG.format(code=tmp_path)
    assert first_error(log, tmp_path, where).startswith("app/services.py:113  ValueError")
    found = first_error(log, tmp_path, where, provoked=("ValueError: iterations must be",))
    assert found == "app/api/routes/tasks.py:120  NameError: name 'answr' is not defined"


def test_every_declared_mutant_applies_to_its_solution(tmp_path):
    """A mutant whose find text left the solution would prove nothing: the text must be there once."""
    from queuelabs import mutants
    from queuelabs.labs import all_labs

    for lab in all_labs():
        declared = mutants.load(lab)
        assert {m.exercise for m in declared} == {ex.id for ex in lab.exercises} or not lab.exercises, (
            f"lab {lab.id}: every exercise needs a mutant"
        )
        for mutant in declared:
            mutants.apply(mutant, lab.solution_dir, tmp_path / f"{lab.id}-{len(list(tmp_path.iterdir()))}")


def test_a_mutant_whose_find_text_is_gone_is_an_error_that_names_it(tmp_path):
    from queuelabs import mutants

    lab = find_lab("02")
    gone = mutants.Mutant("2.5", "$set", "app/services.py", "no such text", "x", ("first",))
    with pytest.raises(mutants.MutantError, match=r"mutant 2.5 '\$set'.*no longer in app/services.py"):
        mutants.apply(gone, lab.solution_dir, tmp_path / "code")


def test_make_status_says_how_to_clear_a_precondition_failed():
    from queuelabs.process_status import crash_advice

    error = (
        "amqp.exceptions.PreconditionFailed: Queue.declare: (406) PRECONDITION_FAILED - inequivalent arg "
        "'x-max-priority' for queue 'reports' in vhost '/': received the value '10' of type 'signedint'"
    )
    advice = crash_advice("lab02-worker", error)
    assert "DELETE http://127.0.0.1:15672/api/queues/%2F/reports" in advice and "save" not in advice
    assert "save" in crash_advice("lab02-worker", "NameError: name 'x' is not defined")


HOLD = """
import sys, time
from queuelabs.isolation import hold_the_test_stack
hold_the_test_stack()
print("holding", flush=True)
time.sleep(float(sys.argv[1]))
"""


def test_a_second_grading_run_waits_for_the_first_and_says_whose_it_is(tmp_path):
    """make watch and make check at once: one holds the test stack, the other waits its turn."""
    env = {**os.environ, "QUEUELABS_RUN_DIR": str(tmp_path)}
    env.pop("QUEUELABS_TEST_STACK_HELD", None)
    first = subprocess.Popen([sys.executable, "-c", HOLD, "3"], env=env, stdout=subprocess.PIPE, text=True)
    assert first.stdout.readline().strip() == "holding"
    second = subprocess.run([sys.executable, "-c", HOLD, "0"], env=env, capture_output=True, text=True, timeout=60)
    first.wait(timeout=30)
    assert second.stdout.strip() == "holding", second.stderr
    waited = second.stderr.strip().splitlines()
    assert len(waited) == 1 and waited[0].startswith(f"waiting for the grading run of pid {first.pid}"), waited
