"""Lab 03's fixtures, for its checkpoints and its own tests.

The real-component fixtures (api, worker, lab_worker, celery_app, fresh_stack...)
come from the testing package and read this lab's lab.toml. Here: Django loaded
in the test process (for the admin checkpoint), the emails worker, and beat.
"""

import os

import pytest

from queuelabs.isolation import purge_queues
from queuelabs.testing.spawn import Worker


@pytest.fixture
def empty_queues(lab):
    """Empty the lab's queues in the checkpoints' vhost."""
    return lambda: purge_queues(lab.manifest.checkpoints.queues)


@pytest.fixture
def django_ready(fresh_stack):
    """Django set up in the test process, on the checkpoints' database (the graded code's settings)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


@pytest.fixture
def emails_worker(fresh_stack, lab_run, session_lab_process) -> Worker:
    """The dedicated emails worker (-Q emails), not started yet: .start() / .stop()."""
    return lab_run.keep("emails worker", lambda: Worker(session_lab_process, "emails-worker"))


@pytest.fixture
def beat(fresh_stack, start_lab_process, tmp_path):
    """A real `celery beat`, for one test (the checkpoints' schedule runs every second), with a
    schedule file of its own: a learner's beat may be running on the same code folder."""
    # On the command line, not in the settings: a starter that does not read them yet
    # would write Celery's default file into the code folder.
    return start_lab_process("beat", extra_args=("--schedule", str(tmp_path / "celerybeat-schedule")))
