"""The pytest plugin behind every test run (loaded by pyproject.toml's addopts).

- `--code exercise|solution|PATH` chooses whose code is graded (default: the
  learner's exercise/ folder).
- Each test belongs to the lab whose lab.toml is nearest above it. Before a
  lab's first test runs, its graded code is put on the import path (and the
  previous lab's is taken off, with its modules), so `pytest labs/` can hold
  several labs that each call their package `app`. Checkpoints import the
  graded code inside tests and fixtures, never at module level.
- Checkpoints never touch the learner's data: see isolation.py.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from queuelabs import warm
from queuelabs.labs import Lab, LabError, load_lab
from queuelabs.settings import TEST_ENV
from queuelabs.starter import untouched

from .checks import ExerciseNotStarted
from .spawn import Spawner, live_processes

T = TypeVar("T")

pytest_plugins = ["queuelabs.testing.fixtures", "queuelabs.testing.grading"]


@dataclass
class LabRun:
    """One lab's part of a test run: its graded code, its environment, what it started."""

    lab: Lab
    code_dir: Path
    env: dict[str, str]
    spawner: Spawner
    stack_checked: bool = False
    fresh: bool = False
    # With --warm: the graded code's base fingerprint (queuelabs/warm.py), and whether the previous
    # run's processes of the same code may be reused (the test stack is as that code left it).
    warm_base: str | None = None
    reuse_parked: bool = False
    modules: set[str] = field(default_factory=set)
    # Exercises whose starter blocks are still as generated: "not started", whatever a test says.
    untouched: set[str] = field(default_factory=set)
    # What lives as long as the lab's part of the run (see keep).
    kept: dict[str, Any] = field(default_factory=dict)

    def keep(self, name: str, make: Callable[[], T]) -> T:
        """`make()` once for the lab's part of the run, the same answer after: its API's URL, its
        worker, a service of its own. pytest has no scope for this: a run may cover several labs
        (`pytest labs/`), and each lab's processes must stop before the next lab's start (the same
        test vhost, ports, `app` package); package scope is the whole session for these folders.
        Forgotten when the lab's processes stop (stop)."""
        if name not in self.kept:
            self.kept[name] = make()
        return self.kept[name]

    def stop(self, park: bool = False) -> None:
        self.spawner.stop_all(park=park)
        for value in self.kept.values():
            if callable(close := getattr(value, "close", None)):
                close()
        self.kept.clear()


@dataclass
class RunState:
    code: str
    runs: dict[Path, LabRun] = field(default_factory=dict)
    active: LabRun | None = None


# The run's state lives on its config (pytest's stash), never in this module: two runs in one
# process (pytester's, `make check` in the CLI's process) share nothing.
STATE = pytest.StashKey[RunState]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("queuelabs", "Queue Labs grader")
    group.addoption(
        "--code",
        default=os.environ.get("QUEUELABS_CODE", "exercise"),
        help="whose code to grade: exercise (yours, the default), solution, or a folder",
    )
    group.addoption("--exercise", default=None, help="run only the checkpoints of this exercise, e.g. 2.3 (or 2.3,2.4)")
    group.addoption(
        "--table-only", action="store_true", help="no progress letters: the exercise table is the summary (make check)"
    )
    group.addoption("--grade-json", default=None, help="also write each exercise's outcome to this JSON file")
    group.addoption(
        "--warm",
        action="store_true",
        help="keep the lab's API and worker running for the next run of the same code (make check, make watch)",
    )
    group.addoption(
        "--run-untouched",
        action="store_true",
        help="run the checkpoints of exercises not started too (make prove: each must fail on the starter)",
    )
    group.addoption(
        "--show-logs",
        action="store_true",
        default=os.environ.get("CI") == "true",
        help="print the last lines of every server's log under a failed checkpoint (default: only their paths; on in CI)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "exercise(id): the exercise this checkpoint grades, e.g. '2.3'")
    config.addinivalue_line(
        "markers", "provokes(text): an error this checkpoint causes on purpose, never shown as the learner's"
    )
    if os.environ.get("PYTEST_CURRENT_TEST"):
        # A grading run started by a test (make test's) keeps nothing warm: a parked worker would
        # take the tasks of the tests that follow, which share the test stack without this plugin.
        config.option.warm = False
    if not config.getoption("warm"):
        warm.retire(None, None)  # and what a make check parked is stopped before this run's tests
    config.stash[STATE] = RunState(code=config.getoption("code"))
    os.environ.update(TEST_ENV)  # the graded code imported in this process uses the test stack too
    # When the run is about one lab (the usual case), its code goes on the path
    # now, so a checkpoint module may import it even while being collected.
    labs = {lab_dir for arg in config.args if (lab_dir := _lab_dir(Path(arg.split("::")[0])))}
    if len(labs) == 1:
        _activate(config, _run_for_dir(config, labs.pop()))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wanted = config.getoption("exercise")
    if not wanted:
        return
    wanted = set(wanted.split(","))
    keep, drop = [], []
    for item in items:
        (keep if exercise_of(item) in wanted else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # An interrupted or broken run parks nothing: its processes may be half way through a test.
    session.config.stash[ENDED_CLEANLY] = exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)


ENDED_CLEANLY = pytest.StashKey[bool]()


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    for run in state.runs.values() if state else ():
        run.stop(park=config.stash.get(ENDED_CLEANLY, False) and run.warm_base is not None)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    run = lab_run_for(item.config, item.path)
    if run is None:
        return
    _activate(item.config, run)
    # An exercise whose starter blocks are as generated reads "not started" whatever its checkpoint
    # says: so it is not run (no server started, no stall waited out: lab 04's starter took 1m43s).
    exercise_id = exercise_of(item)
    if exercise_id in run.untouched and not item.config.getoption("run_untouched"):
        raise ExerciseNotStarted(f"Exercise {exercise_id} is not done yet")


def exercise_of(item: pytest.Item) -> str | None:
    """The exercise a checkpoint grades (its @pytest.mark.exercise("2.3")), or None."""
    marker = item.get_closest_marker("exercise")
    return str(marker.args[0]) if marker is not None else None


def lab_run_for(config: pytest.Config, path: Path) -> LabRun | None:
    lab_dir = _lab_dir(path)
    return _run_for_dir(config, lab_dir) if lab_dir else None


def _lab_dir(path: Path) -> Path | None:
    """The nearest folder at or above `path` with a lab.toml."""
    path = path.resolve()
    for folder in (path, *path.parents):
        if (folder / "lab.toml").is_file():
            return folder
    return None


def _run_for_dir(config: pytest.Config, lab_dir: Path) -> LabRun:
    state = config.stash[STATE]
    if lab_dir not in state.runs:
        lab = load_lab(lab_dir)
        try:
            code_dir = lab.code_dir(state.code)
        except LabError as exc:
            raise pytest.UsageError(str(exc)) from None
        env = {**os.environ, **TEST_ENV, **cluster_env(lab), **lab.manifest.checkpoints.env, "PYTHONUNBUFFERED": "1"}
        # Every "coroutine ... was never awaited", not only its first time in the process: the
        # grader shows the one logged during the failing checkpoint (a missing await).
        env["PYTHONWARNINGS"] = "always::RuntimeWarning"
        env.pop("QUEUELABS_BIND_HOST", None)
        base = warm.base_fingerprint(code_dir, lab_dir / "lab.toml") if config.getoption("warm") else None
        state.runs[lab_dir] = LabRun(
            lab=lab,
            code_dir=code_dir,
            env=env,
            spawner=Spawner(code_dir, env, base, live=live_processes(config)),
            untouched=untouched(lab, code_dir),
            warm_base=base,
        )
    return state.runs[lab_dir]


def _activate(config: pytest.Config, run: LabRun) -> None:
    """Make `run`'s lab the one whose code is importable; stop what the previous lab started."""
    state = config.stash[STATE]
    if state.active is run:
        return
    if state.active is not None:
        previous = state.active
        previous.stop()
        sys.path[:] = [p for p in sys.path if p != str(previous.code_dir)]
        for name in list(sys.modules):  # its `app` must not answer for the next lab's `app`
            if name.split(".")[0] in previous.modules:
                del sys.modules[name]
    sys.path.insert(0, str(run.code_dir))
    run.modules = {p.stem for p in run.code_dir.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    os.environ.update({**cluster_env(run.lab), **run.lab.manifest.checkpoints.env})
    state.active = run


def cluster_env(lab: Lab) -> dict[str, str]:
    """A lab on `make cluster` (lab 05): the checkpoints' corner of the cluster instead of the single node."""
    from queuelabs.cluster.clients import test_env

    return test_env() if "cluster" in lab.needs else {}
