"""The generator turns solution regions into the learner's starter."""

import shutil

import pytest

from queuelabs import starter
from queuelabs.labs import load_lab


@pytest.fixture
def toy(tmp_path, request):
    src = request.path.parent / "toylab"
    shutil.copytree(src, tmp_path / "toylab", ignore=shutil.ignore_patterns("__pycache__", "exercise"))
    return load_lab(tmp_path / "toylab")


def test_region_becomes_todo_and_raise(toy):
    text = starter.generate(toy)["toy/maths.py"].decode()
    assert "return a + b" not in text
    assert "    # TODO Exercise 99.1: Add two numbers. Return the sum of a and b." in text
    assert '    raise NotImplementedError("Exercise 99.1 is not done yet: Add two numbers")' in text
    assert "BEGIN EXERCISE" not in text and "END EXERCISE" not in text


def test_starter_body_replaces_solution(toy):
    text = starter.generate(toy)["toy/maths.py"].decode()
    assert '    return "goodbye"' in text
    assert 'return "hello"' not in text


def test_files_without_regions_are_copied(toy):
    files = starter.generate(toy)
    assert files["toy/__init__.py"] == (toy.solution_dir / "toy/__init__.py").read_bytes()


def test_write_then_differences_is_clean(toy):
    starter.write(toy)
    assert starter.differences(toy) == []
    (toy.exercise_dir / "toy/maths.py").write_text("# edited\n")
    (toy.exercise_dir / "stray.py").write_text("x = 1\n")
    assert starter.differences(toy) == ["differs: toy/maths.py", "not in solution/: stray.py"]


@pytest.mark.parametrize(
    "body, message",
    [
        ("# BEGIN EXERCISE 99.1\nx = 1\n", "has no END EXERCISE 99.1"),
        ("# BEGIN EXERCISE 99.1\n# END EXERCISE 99.2\n", "END EXERCISE 99.2 closes 99.1"),
        ("# BEGIN EXERCISE 42.1\n# END EXERCISE 42.1\n", "exercise 42.1 is not in"),
        ("# END EXERCISE 99.1\n", "marker outside"),
        ("# BEGIN EXERCISE 99.1\n# STARTER\nx = 1\n# END EXERCISE 99.1\n", "must be commented out"),
    ],
)
def test_malformed_regions_name_the_line(toy, body, message):
    with pytest.raises(starter.RegionError, match=message):
        starter.render(toy, body, "f.py")


def test_every_exercise_needs_a_region(toy):
    (toy.solution_dir / "toy/maths.py").write_text("def add(a, b):\n    return a + b\n")
    with pytest.raises(starter.RegionError, match="no BEGIN EXERCISE region for 99.1, 99.2"):
        starter.generate(toy)


def test_every_real_lab_generates():
    """Every lab's regions are well formed and cover every exercise in its lab.toml.
    (Whether the committed exercise/ matches is `queuelabs starter --strict`, run by CI:
    here it would fail on a learner's own edits.)"""
    from queuelabs.labs import all_labs

    for lab in all_labs():
        files = starter.generate(lab)
        assert files, f"lab {lab.id} has no solution files"


def test_writing_one_of_two_identical_todos_starts_the_exercise(tmp_path):
    """Lab 01's 1.4 has two TODOs with the same text (submit_job, job_status): the learner who
    wrote submit_job has started it, and is told what is left instead of 'not started'."""
    from queuelabs.labs import find_lab

    lab = find_lab("01")
    for rel, content in starter.generate(lab).items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(content)
    assert "1.4" in starter.untouched(lab, tmp_path)
    jobs = tmp_path / "app/api/routes/jobs.py"
    todo = 'raise NotImplementedError("Exercise 1.4 is not done yet: Answer 202 with a job id, then lose the job")'
    assert jobs.read_text().count(todo) == 2
    jobs.write_text(jobs.read_text().replace(todo, "return {}", 1))
    assert "1.4" not in starter.untouched(lab, tmp_path)
