"""The grader plugin under pytest's own pytester: a one-exercise lab written in a temporary folder,
its starter generated, graded by the plugin in this process as `make check` grades."""

import pytest

from queuelabs import starter
from queuelabs.labs import load_lab

LAB = {
    "lab.toml": """\
format_version = 1

[lab]
id = "98"
title = "Plugin lab"
api = "none"

[processes.none]
command = "true"
port = 8098

[[exercise]]
id = "98.1"
title = "Add two numbers"
files = ["calc/maths.py"]
hints = ["Return the sum of a and b."]
""",
    "solution/calc/__init__.py": "",
    "solution/calc/maths.py": """\
def add(a, b):
    # BEGIN EXERCISE 98.1
    return a + b
    # END EXERCISE 98.1
""",
    "checkpoints/test_calc.py": """\
import pytest


@pytest.mark.exercise("98.1")
def test_add():
    from calc.maths import add

    total = add(2, 3)
    assert total == 5, f"add(2, 3) gave {total}, not 5: return the sum of a and b\\nsecond line of detail"
""",
}
TABLE_ONLY = ["--tb=no", "-rN", "-qq", "-o", "console_output_style=classic", "--table-only"]


@pytest.fixture
def lab(pytester):
    for name, text in LAB.items():
        path = pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    lab = load_lab(pytester.path)
    starter.write(lab)
    return lab


def grade(pytester, *extra):
    return pytester.runpytest("-p", "queuelabs.testing.plugin", "checkpoints", "-p", "no:cacheprovider", *extra)


def edit(lab, body: str) -> None:
    """The learner replaces the starter's line in the exercise block."""
    maths = lab.exercise_dir / "calc/maths.py"
    lines = maths.read_text().splitlines()
    maths.write_text("\n".join(f"    {body}" if "NotImplementedError" in line else line for line in lines) + "\n")


def test_the_untouched_starter_reads_not_started(pytester, lab):
    result = grade(pytester, *TABLE_ONLY)
    result.stdout.fnmatch_lines(["*TODO  98.1  Add two numbers*not started*", "Next: exercise 98.1, in *calc/maths.py"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_an_edited_block_is_graded(pytester, lab):
    edit(lab, "return a + b")
    passed = grade(pytester, *TABLE_ONLY)
    passed.stdout.fnmatch_lines(["*PASS  98.1  Add two numbers*passed*", "1 of 1 exercises complete"])
    assert passed.ret == pytest.ExitCode.OK


def test_a_wrong_answer_fails_with_one_line_saying_what_is_missing(pytester, lab):
    edit(lab, "return a - b")
    result = grade(pytester, *TABLE_ONLY)
    result.stdout.fnmatch_lines(
        ["*FAIL  98.1  Add two numbers*failed*", "*still missing: add(2, 3) gave -1, not 5: return the sum of a and b"]
    )
    output = result.stdout.str()
    assert "second line of detail" not in output and "Traceback" not in output and "assert " not in output
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_what_a_lab_keeps_is_made_once_and_closed_when_its_processes_stop(tmp_path):
    """LabRun.keep: the per-lab lifetime pytest has no scope for (see its docstring)."""
    from queuelabs.testing.plugin import LabRun
    from queuelabs.testing.spawn import Spawner

    class Client:
        closed = False

        def close(self):
            self.closed = True

    run = LabRun(lab=None, code_dir=tmp_path, env={}, spawner=Spawner(tmp_path, {}))
    made = []
    first = run.keep("client", lambda: made.append(Client()) or made[-1])
    assert run.keep("client", lambda: made.append(Client()) or made[-1]) is first and len(made) == 1
    run.stop()
    assert first.closed
    assert run.keep("client", Client) is not first  # the next lab's part of the run starts afresh
