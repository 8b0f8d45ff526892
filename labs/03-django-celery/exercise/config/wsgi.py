"""The WSGI entry point: `gunicorn config.wsgi:application` (see lab.toml)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()
