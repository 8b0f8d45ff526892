"""Lab 02's checkpoints: fixtures in lab02_fixtures.py, contract checks in contract.py."""

from lab02_fixtures import api, celery_app, fresh_stack, lab_worker, silent_port, worker  # noqa: F401
