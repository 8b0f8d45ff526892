"""The grader plugin, run for real in a pytest subprocess on the toy lab."""

import json
import shutil
import subprocess
import sys

import pytest

from queuelabs import starter
from queuelabs.labs import load_lab
from queuelabs.testing.grading import exercise_status


@pytest.fixture
def toy(tmp_path, request):
    shutil.copytree(request.path.parent / "toylab", tmp_path / "toylab", ignore=shutil.ignore_patterns("__pycache__"))
    lab = load_lab(tmp_path / "toylab")
    starter.write(lab)
    return lab


def grade(lab, code, tmp_path):
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
