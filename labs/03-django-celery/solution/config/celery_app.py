"""The Celery application, wired into Django: `celery -A config.celery_app worker`.

Django's way (cookiecutter-django, Celery's own "First steps with Django"):
every setting lives in config/settings.py as CELERY_<NAME>, loaded from there;
every installed app's `tasks.py` is found by itself; and config/__init__.py
imports this module, so `@shared_task` functions bind to THIS app in every
process that loads Django (gunicorn, manage.py, the worker).
"""

from __future__ import annotations

import os

from celery import Celery

# The worker does not start through manage.py: tell Django where its settings are.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("lab03")

# BEGIN EXERCISE 3.1
# Read every CELERY_* name from Django's settings (CELERY_BROKER_URL -> broker_url).
app.config_from_object("django.conf:settings", namespace="CELERY")
# Import `tasks.py` from every app in INSTALLED_APPS (jobs/tasks.py).
app.autodiscover_tasks()
# STARTER
# pass  # the app has no configuration and knows no tasks yet
# END EXERCISE 3.1
