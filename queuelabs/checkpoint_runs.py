"""How the grader calls pytest on a lab's checkpoints: one command line for `make check`,
`make watch`, `make prove` and the mutants (gradebook, watch and mutants all import it)."""

from __future__ import annotations

import sys
from pathlib import Path

from .labs import Lab
from .room import outbox
from .settings import REPO_ROOT


def rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


# `make check` and `make watch`: the exercise table is the whole output. No tracebacks
# (--tb=no), no FAILED lines (-rN), no progress letters or "5 failed in 7 s" line (-qq,
# classic style, --table-only): "failed" is what pytest calls an exercise not started yet.
TABLE_ONLY = ["--tb=no", "-rN", "-qq", "-o", "console_output_style=classic", "--table-only"]


# pytest plugins installed for the platform's own tests (property-based API tests, Locust) that no
# checkpoint uses: not loading them saves a second or more on every check. And pytest's own
# unraisableexception, which ends every run with two full garbage collections (about 0.1 s each
# once the graded app, Celery and pymongo are loaded) to turn an error in a __del__ into a warning
# that no grade depends on.
NOT_FOR_CHECKPOINTS = ["hypothesispytest", "schemathesis", "locust", "anyio", "cacheprovider", "unraisableexception"]


def checkpoint_argv(lab: Lab, code: str, grade_json: Path | None = None, *, warm: bool = False) -> list[str]:
    """pytest on a lab's checkpoints, run from REPO_ROOT. -c: the project's pytest settings (the
    grader plugin) even for a lab outside the repository. warm: reuse the processes the previous
    run of the same code left running, and leave this run's for the next (queuelabs/warm.py)."""
    argv = [sys.executable, "-m", "pytest", "-c", str(REPO_ROOT / "pyproject.toml")]
    argv += [rel(lab.checkpoints_dir), f"--code={code}"]
    argv += [arg for plugin in NOT_FOR_CHECKPOINTS for arg in ("-p", f"no:{plugin}")]
    # `make check` runs pytest in its own process, after its service check has imported anyio
    # (through httpx): pytest then warns that it cannot rewrite the asserts of anyio's pytest
    # plugin, which it lists even though a checkpoint run never loads it. Nothing to act on.
    argv += ["-W", "ignore::pytest.PytestAssertRewriteWarning"]
    if warm:
        argv.append("--warm")
    if grade_json is not None:
        argv += ["--grade-json", str(grade_json)]
    return argv + outbox.pytest_args(code)  # after `make join`: also keep the grades for the room
