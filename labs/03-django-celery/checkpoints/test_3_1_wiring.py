"""Exercise 3.1: Celery wired into Django, seen from a fresh Django process and from a real worker."""

import subprocess
import sys

import pytest

from queuelabs.isolation import queue_info
from queuelabs.testing.checks import wait_for

TASKS = {"reports.process", "emails.send_welcome", "reports.hourly_digest"}

# What a Django process (gunicorn, manage.py) sees: which app do the tasks belong to?
# First, before anything imports jobs/tasks.py: does the app find the tasks by itself, as a worker
# must (autodiscover_tasks)? Run with CELERY_SKIP_CHECKS (`celery worker --skip-checks`): Django's
# system checks import urls.py -> views.py -> tasks.py, which would hide the missing call.
PROBE = """
import django
django.setup()
from config.celery_app import app as configured
configured.loader.import_default_modules()
discovered = "reports.process" in configured.tasks
from jobs.tasks import process_report
app = process_report.app
print(app.main, app.conf.task_default_queue, app.conf.worker_prefetch_multiplier, app.conf.task_acks_late, discovered)
"""


@pytest.mark.exercise("3.1")
def test_a_django_process_binds_the_tasks_to_the_configured_app(fresh_stack, code_dir, test_env):
    env = {**test_env, "DJANGO_SETTINGS_MODULE": "config.settings", "CELERY_SKIP_CHECKS": "1"}
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=code_dir, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"loading Django failed: {done.stderr.strip().splitlines()[-1:]}"
    main, default_queue, prefetch, acks_late, discovered = done.stdout.split()
    assert main == "lab03", (
        f"in a Django process, @shared_task binds to the app {main!r}, not to config/celery_app.py's 'lab03': "
        "import the app in config/__init__.py"
    )
    assert (default_queue, prefetch, acks_late) == ("default", "1", "True"), (
        f"the app does not read CELERY_* from settings (task_default_queue={default_queue}, "
        f"worker_prefetch_multiplier={prefetch}, task_acks_late={acks_late}): config_from_object(..., namespace='CELERY')"
    )
    assert discovered == "True", (
        "the Celery app does not find jobs/tasks.py by itself: call app.autodiscover_tasks() in "
        "config/celery_app.py (a worker would know no task unless something else happened to import them)"
    )


@pytest.mark.exercise("3.1")
def test_the_worker_finds_the_tasks_and_reads_the_queues(celery_app, worker):
    def registered():
        replies = celery_app.control.inspect(timeout=1.0).registered() or {}
        return replies or None

    replies = wait_for(registered, timeout=10, interval=0.2, what="a worker to answer `inspect registered`")
    names = set().union(*replies.values())
    missing = TASKS - names
    assert not missing, (
        f"the worker does not know {sorted(missing)}: call app.autodiscover_tasks() (it knows {sorted(names)})"
    )
    # The worker declared the queues it reads: `reports` as CELERY_TASK_QUEUES says, with x-max-priority.
    reports = queue_info("reports") or {}
    arguments = reports.get("arguments", {})
    assert arguments.get("x-max-priority") == 10, (
        f"the worker declared `reports` with {arguments}: CELERY_TASK_QUEUES did not reach the worker"
    )
