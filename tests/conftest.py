"""Fixtures for the platform's own tests."""

import os

import pytest

from queuelabs.labs import find_lab
from queuelabs.settings import TEST_ENV
from queuelabs.stack import ensure_test_vhost
from queuelabs.testing.isolation import delete_queues
from queuelabs.testing.spawn import Spawner, lab_process_starter

# The toy lab is data for the grader tests, not part of this suite.
collect_ignore = ["toylab"]


@pytest.fixture(scope="module")
def run_solution():
    """run_solution("02", "api", "worker") starts a lab's reference solution on
    free ports, isolated like the checkpoints; returns {process: handle}."""
    spawners = []

    def start(lab_id: str, *processes: str, env: dict | None = None):
        lab = find_lab(lab_id)
        if "rabbitmq" in lab.needs:
            assert ensure_test_vhost() is None
        if lab.manifest.checkpoints.queues:  # fresh queues: a starter run may have left old arguments
            delete_queues(lab.manifest.checkpoints.queues)
        env = {**os.environ, **TEST_ENV, **lab.manifest.checkpoints.env, "PYTHONUNBUFFERED": "1", **(env or {})}
        spawner = Spawner(lab.solution_dir, env)
        spawners.append(spawner)
        starter = lab_process_starter(lab, spawner)
        return {name: starter(name, env=env) for name in processes}

    yield start
    for spawner in spawners:
        spawner.stop_all()
