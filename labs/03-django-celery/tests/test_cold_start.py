"""A cold API spends its publish time limit on RabbitMQ, not on loading code.

The first publish of a fresh process used to load Celery's messaging and result
backend code (about 30 modules) inside PUBLISH_TIMEOUT_SECONDS: 0.2 to 0.7 s on a
quiet machine, several seconds on a busy one, and `make chaos LAB=03` saw one or
two of the first submissions refused (503) that a warm API accepts. The WSGI entry
point now loads all of it as the process starts (jobs/publisher.py: warm_up).

A fresh interpreter loads the WSGI application exactly as gunicorn does, then
publishes to the real RabbitMQ: the publish must load no module at all.
"""

import json
import os
import subprocess
import sys

from queuelabs.testing.checks import patience

FIRST_PUBLISH = """
import json, sys, uuid
import config.wsgi  # what gunicorn loads before it hands the process a request
from jobs.publisher import publish
from jobs.tasks import process_report

before = set(sys.modules)
publish(process_report, str(uuid.uuid4()), {"data": "cold start", "iterations": 1})
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_the_first_publish_of_a_fresh_api_process_loads_nothing(fresh_stack, code_dir, empty_queues):
    env = {**os.environ, "PYTHONPATH": str(code_dir), "DJANGO_SETTINGS_MODULE": "config.settings"}
    try:
        run = subprocess.run(
            [sys.executable, "-c", FIRST_PUBLISH],
            cwd=code_dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=patience(60),
        )
    finally:
        empty_queues()  # the task published here is not for any worker
    assert run.returncode == 0, run.stderr[-2000:]
    loaded = json.loads(run.stdout.strip().splitlines()[-1])
    assert loaded == [], (
        f"the first publish loaded {len(loaded)} modules inside its time limit "
        f"(load them as the process starts, in config/wsgi.py): {loaded}"
    )
