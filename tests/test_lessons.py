"""The lessons' console examples print what the lessons show.

Convention (for lesson writers, also in CONTRIBUTING.md): a fenced block opened
with ```console checked holds `$ command` lines, each followed by the output the
lesson promises. The test runs the commands of a block in order, from the
repository's root, with a fresh .run/ of their own (so `make hint` starts at
hint 1), and compares each output with the lesson's after a small
normalisation (trailing spaces, timings, ids, make's Makefile line numbers). A
line that is just `...` stands for any number of lines.

Words after `checked` say what a block needs:
- `stack`: RabbitMQ, Redis and MongoDB answering (`make check` on a starter);
  `make test` starts the stack before it runs these tests.
- `starter`: the untouched starters in every lab's exercise/ (`make check`,
  `make progress`). In a learner's clone, where exercise/ holds their work, the
  block is skipped and says why; under CI (a clean clone) that is a failure.
Only mark output that does not depend on timing or on what else runs, and keep
the whole file quick: it runs in `make test` (about 45 s today).
"""

import os
import re
import subprocess
from pathlib import Path

import pytest

from queuelabs import probes, starter
from queuelabs.labs import all_labs
from queuelabs.settings import REPO_ROOT, SERVICES

CHECKED = re.compile(r"^```console checked([^\n]*)\n(.*?)^```$", re.DOTALL | re.MULTILINE)
NEEDS = {"stack", "starter"}
TIMINGS = re.compile(r"\b\d+(\.\d+)? ?(ms|s)\b")
IDS = re.compile(r"\b[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\b")
MAKEFILE_LINES = re.compile(r"\[Makefile:\d+: ")  # make's own error line names a line of the Makefile


def lesson_files() -> list[Path]:
    return [
        REPO_ROOT / "README.md",
        *sorted((REPO_ROOT / "labs").glob("*/README.md")),
        REPO_ROOT / "TRAINERS.md",
        REPO_ROOT / "loadtest" / "README.md",
    ]


def checked_blocks() -> list[tuple[str, set[str], str]]:
    """[(where, needs, block)] of every lesson."""
    blocks = []
    for path in lesson_files():
        for number, match in enumerate(CHECKED.finditer(path.read_text()), 1):
            blocks.append((f"{path.relative_to(REPO_ROOT)}#{number}", set(match.group(1).split()), match.group(2)))
    return blocks


def steps(block: str) -> list[tuple[str, str]]:
    """[(command, expected output)] of one block."""
    result: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            result.append((line[2:], []))
        elif result:
            result[-1][1].append(line)
    return [(command, "\n".join(lines)) for command, lines in result]


def normalise(text: str) -> str:
    text = IDS.sub("<id>", TIMINGS.sub("<time>", MAKEFILE_LINES.sub("[Makefile:<line>: ", text)))
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def matches(expected: str, actual: str) -> bool:
    parts = [re.escape(line) if line != "..." else "(?:.*\n)*?" for line in normalise(expected).split("\n")]
    pattern = "".join(part if part.startswith("(?:") else part + "\n" for part in parts)
    return re.fullmatch(pattern, normalise(actual) + "\n") is not None


def test_the_lessons_have_checked_examples():
    assert len(checked_blocks()) >= 1, "no ```console checked block in any lesson: the convention is unused"
    for where, needs, _ in checked_blocks():
        assert needs <= NEEDS, f"{where}: unknown word after `console checked`: {needs - NEEDS} (known: {NEEDS})"


def require(where: str, needs: set[str]) -> None:
    """Fail (or, for a learner's own work, skip) with one line when a block cannot run here."""
    if "stack" in needs and (down := probes.services_down(list(SERVICES))):
        pytest.fail(f"{where} needs the stack: {down[0]}", pytrace=False)
    if "starter" in needs:
        edited = [lab.name for lab in all_labs() if starter.differences(lab)]
        if edited:
            why = f"{where} shows the untouched starter, and exercise/ differs from it in {', '.join(edited)}"
            if os.environ.get("CI"):
                pytest.fail(f"{why}: run `make starter`", pytrace=False)
            pytest.skip(f"{why} (your own work; CI checks a clean clone)")


@pytest.mark.parametrize("where, needs, block", checked_blocks(), ids=[where for where, _, _ in checked_blocks()])
def test_a_checked_console_example_prints_what_the_lesson_shows(tmp_path, where, needs, block):
    require(where, needs)
    # As a learner types it: not a sub-make of `make test` (which would print "make[1]:" in its errors).
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")}
    env.update(QUEUELABS_RUN_DIR=str(tmp_path / "run"), MAKEFLAGS="--no-print-directory")
    for command, expected in steps(block):
        done = subprocess.run(
            ["bash", "-c", command], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        if not matches(expected, done.stdout + done.stderr):
            printed = done.stdout + done.stderr
            pytest.fail(f"{where}: `{command}` printed\n{printed}\nbut the lesson shows\n{expected}", pytrace=False)


@pytest.mark.parametrize(
    "expected, actual, same",
    [
        ("a\n...\nc", "a\nb\nb2\nc\n", True),
        ("a\n...", "a\n", True),
        ("took 1.5 s", "took 0.2 s", True),
        ("a\nc", "a\nb\nc", False),
        ("make: *** [Makefile:80: hint] Error 2", "make: *** [Makefile:81: hint] Error 2", True),
    ],
)
def test_the_comparison(expected, actual, same):
    assert matches(expected, actual) is same
