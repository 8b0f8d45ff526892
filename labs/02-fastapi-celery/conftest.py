"""Lab 02's fixtures, for its checkpoints and its own tests.

The real-component fixtures (api, worker, lab_worker, celery_app, fresh_stack,
silent_port...) come from the testing package (queuelabs/testing/fixtures.py)
and read this lab's lab.toml: its processes, its [checkpoints] env and queues.
"""

import pytest

from queuelabs.isolation import purge_queues


@pytest.fixture
def empty_queues(lab):
    """Empty the lab's queues in the checkpoints' vhost: start() a worker, and it finds only what you queue next."""
    return lambda: purge_queues(lab.manifest.checkpoints.queues)
