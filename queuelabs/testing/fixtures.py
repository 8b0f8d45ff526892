"""The real-component fixtures every lab's checkpoints and tests use.

Each lab's processes come from its lab.toml, so these fixtures hold nothing
lab-specific: `api` is the process named by `[lab] api`, `worker` the one
named `worker`, `celery_app` the module in `[checkpoints] celery_app`. A run
may cover several labs (`pytest labs/`): what a lab starts lives in its
LabRun, and is stopped when the run moves on to the next lab.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from queuelabs import faults, warm
from queuelabs.isolation import fresh_test_stack, hold_the_test_stack
from queuelabs.labs import Lab
from queuelabs.processes import free_port
from queuelabs.stack import ready_for_grading

from .plugin import LabRun, lab_run_for
from .spawn import CtrlC, Spawner, Worker, lab_process_starter, live_processes

CTRL_C = pytest.StashKey[CtrlC]()


def pytest_configure(config: pytest.Config) -> None:
    # Ctrl+C pressed twice must not abort the teardown that stops the processes below (see spawn.py).
    config.stash[CTRL_C] = CtrlC(live_processes(config))
    config.stash[CTRL_C].install()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    if ctrl_c := config.stash.get(CTRL_C, None):
        ctrl_c.uninstall()


@pytest.fixture
def lab_run(request: pytest.FixtureRequest) -> LabRun:
    """What the test's own lab runs for the whole session (started on first use)."""
    run = lab_run_for(request.config, request.node.path)
    if run is None:
        pytest.fail("this test is not inside a lab folder (labs/NN-*/)", pytrace=False)
    return run


@pytest.fixture
def lab(lab_run: LabRun) -> Lab:
    return lab_run.lab


@pytest.fixture
def code_dir(lab_run: LabRun) -> Path:
    """The graded code: the learner's exercise/, the solution/, or a folder (--code)."""
    return lab_run.code_dir


@pytest.fixture
def test_env(lab_run: LabRun) -> dict[str, str]:
    """The environment of every process a checkpoint starts: isolated, plus the lab's [checkpoints] env."""
    return lab_run.env


@pytest.fixture
def stack(lab_run: LabRun) -> None:
    """Stop the whole run with one line if a service the lab needs is down."""
    if lab_run.stack_checked:
        return
    hold_the_test_stack()  # one grading run at a time: make watch and make check would clash
    # What an earlier run parked is stopped unless it still runs the code on disk (queuelabs/warm.py).
    # Never for a cluster lab: each run deletes its corner's queues and exchanges (fresh_test_corner, so
    # that a checkpoint can place a queue on the node it needs), and a parked API would go on publishing
    # to an exchange it believes declared (404 NOT_FOUND, a false FAIL on correct code).
    base = None if "cluster" in lab_run.lab.needs else lab_run.warm_base
    lab_run.reuse_parked = warm.retire(lab_run.code_dir, base)
    if problem := ready_for_grading(lab_run.lab.needs):
        pytest.exit(problem, returncode=3)
    lab_run.stack_checked = True


@pytest.fixture
def fresh_stack(stack, lab_run: LabRun) -> None:
    """Once per lab in a run: empty test stores and freshly declared queues."""
    if not lab_run.fresh:
        # Reusing the last run's processes: empty the queues and collections but keep them, with the
        # arguments and indexes this same code declared when those processes started.
        queues, needs = lab_run.lab.manifest.checkpoints.queues, lab_run.lab.needs
        if "cluster" in needs:  # lab 05: the same, on `make cluster`'s servers
            from queuelabs.cluster.clients import fresh_test_corner

            fresh_test_corner(queues)
        fresh_test_stack(queues, needs, keep=lab_run.reuse_parked)
        warm.stack_prepared(lab_run.warm_base, lab_run.code_dir)
        lab_run.fresh = True


@pytest.fixture
def spawn(lab_run: LabRun, request: pytest.FixtureRequest):
    """spawn(argv, port=..., ready_url=..., ready_log=...) -> a running process, stopped after the test."""
    spawner = Spawner(lab_run.code_dir, lab_run.env, live=live_processes(request.config))
    yield spawner
    spawner.stop_all()


@pytest.fixture
def start_lab_process(lab: Lab, spawn: Spawner):
    """start_lab_process("api") runs the lab's declared process on a free port, for one test."""
    return lab_process_starter(lab, spawn)


@pytest.fixture
def session_lab_process(lab_run: LabRun):
    """Like start_lab_process, but the process lives as long as the lab's part of the run."""
    return lab_process_starter(lab_run.lab, lab_run.spawner)


@pytest.fixture
def api(fresh_stack, lab_run: LabRun) -> str:
    """The base URL of the lab's API (the graded code) under its real server, started once per lab."""
    lab = lab_run.lab
    return lab_run.keep("api", lambda: lab_process_starter(lab, lab_run.spawner)(lab.api_process).url)


@pytest.fixture
def lab_worker(fresh_stack, lab_run: LabRun) -> Worker:
    """The lab's Celery worker process, not started yet: .start(concurrency) / .stop()."""
    return lab_run.keep(
        "worker", lambda: Worker(lab_process_starter(lab_run.lab, lab_run.spawner), spawner=lab_run.spawner)
    )


@pytest.fixture
def worker(lab_worker: Worker) -> Worker:
    """A running worker (started once, shared; restarted if a test stopped it)."""
    return lab_worker.start()


@pytest.fixture
def celery_app(fresh_stack, lab: Lab):
    """The graded code's Celery app, imported in the test process (isolated by the test env)."""
    target = lab.manifest.checkpoints.celery_app
    if target is None:
        pytest.fail(f"lab {lab.id} declares no [checkpoints] celery_app in lab.toml", pytrace=False)
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


@pytest.fixture
def silent_port():
    """A TCP port that accepts connections and never answers: a hung server."""
    with faults.silent_port() as port:
        yield port


@pytest.fixture
def kept_silent_port(lab_run: LabRun) -> int:
    """A silent port served by a process of its own, which lives as long as the lab's processes and,
    under --warm, is parked and reused with them: a lab process started against it with
    session_lab_process (2.4's API on a hung result backend) then keeps its key, and is reused too."""

    def serve() -> int:
        spawner = lab_run.spawner
        key = spawner.warm_key("silent port", None)
        if (reused := spawner.reuse(key, silent=True)) is not None:
            return reused.port
        port = free_port()
        argv = [sys.executable, "-m", "queuelabs.faults", str(port)]
        return spawner(argv, name="silent-port", port=port, warm_key=key).port

    return lab_run.keep("silent port", serve)
