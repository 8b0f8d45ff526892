"""A pytest plugin `make check` and `make watch` load after `make join` (gradebook.checkpoint_argv).

It reads the grader's own report at the end of the run and appends each
exercise's grade to the outbox. A file append, no network: grading takes no
longer with a room than without, and a room that is down changes nothing here.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import pytest

from . import outbox

_REPORT = pytest.StashKey[tuple[Path, bool, float]]()


def pytest_configure(config: pytest.Config) -> None:
    path, own = config.getoption("grade_json"), False
    if not path:  # `make check EX=2.3` and `make watch` ask for no report of their own: make one
        fd, path = tempfile.mkstemp(prefix="queuelabs-room-", suffix=".json")
        os.close(fd)
        config.option.grade_json, own = path, True
    config.stash[_REPORT] = (Path(path), own, time.time())


def pytest_unconfigure(config: pytest.Config) -> None:
    path, own, started = config.stash[_REPORT]
    try:
        if path.exists() and path.stat().st_size and path.stat().st_mtime >= started - 1:  # written by this run
            outbox.record(outbox.grades_of(json.loads(path.read_text()), time.time()))
    except (OSError, ValueError) as exc:  # the grade is on screen already; only the room misses it
        print(f"note: this grade was not kept for the room ({exc})", file=sys.stderr)
    finally:
        if own:
            path.unlink(missing_ok=True)
