"""The lessons' console examples that need no stack print what the lessons show.

Convention (for lesson writers): a fenced block opened with ```console checked
holds `$ command` lines, each followed by the output the lesson promises. The
test runs the commands of a block in order, from the repository's root, with a
fresh .run/ of their own (so `make hint` starts at hint 1), and compares each
output with the lesson's after a small normalisation (trailing spaces, timings,
ids). A line that is just `...` stands for any number of lines. Only mark
blocks that run without the stack and without the learner's edits.
"""

import os
import re
import subprocess
from pathlib import Path

import pytest

from queuelabs.settings import REPO_ROOT

CHECKED = re.compile(r"^```console checked\n(.*?)^```$", re.DOTALL | re.MULTILINE)
TIMINGS = re.compile(r"\b\d+(\.\d+)? ?(ms|s)\b")
IDS = re.compile(r"\b[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\b")


def lesson_files() -> list[Path]:
    return [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "labs").glob("*/README.md"))]


def checked_blocks() -> list[tuple[str, str]]:
    blocks = []
    for path in lesson_files():
        for number, match in enumerate(CHECKED.finditer(path.read_text()), 1):
            blocks.append((f"{path.relative_to(REPO_ROOT)}#{number}", match.group(1)))
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
    text = IDS.sub("<id>", TIMINGS.sub("<time>", text))
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def matches(expected: str, actual: str) -> bool:
    parts = [re.escape(line) if line != "..." else "(?:.*\n)*?" for line in normalise(expected).split("\n")]
    pattern = "".join(part if part.startswith("(?:") else part + "\n" for part in parts)
    return re.fullmatch(pattern, normalise(actual) + "\n") is not None


def test_the_lessons_have_checked_examples():
    assert len(checked_blocks()) >= 1, "no ```console checked block in any lesson: the convention is unused"


@pytest.mark.parametrize("where, block", checked_blocks(), ids=[where for where, _ in checked_blocks()])
def test_a_checked_console_example_prints_what_the_lesson_shows(tmp_path, where, block):
    env = {**os.environ, "QUEUELABS_RUN_DIR": str(tmp_path / "run"), "MAKEFLAGS": "--no-print-directory"}
    for command, expected in steps(block):
        done = subprocess.run(
            ["bash", "-c", command], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert matches(expected, done.stdout + done.stderr), (
            f"{where}: `{command}` printed\n{done.stdout}{done.stderr}\nbut the lesson shows\n{expected}"
        )


@pytest.mark.parametrize(
    "expected, actual, same",
    [
        ("a\n...\nc", "a\nb\nb2\nc\n", True),
        ("a\n...", "a\n", True),
        ("took 1.5 s", "took 0.2 s", True),
        ("a\nc", "a\nb\nc", False),
    ],
)
def test_the_comparison(expected, actual, same):
    assert matches(expected, actual) is same
