"""The WSGI entry point: `gunicorn config.wsgi:application` (see lab.toml)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

# Before gunicorn hands this process a request: load the URLconf (the views and
# their tasks), then what the first submission would otherwise load inside its
# publish time limit (jobs/publisher.py). Django first: it loads the Celery app.
from celery import current_app  # noqa: E402
from django.urls import get_resolver  # noqa: E402
from jobs.publisher import warm_up  # noqa: E402

get_resolver().url_patterns  # noqa: B018  (imported on first use otherwise)
warm_up(current_app)
