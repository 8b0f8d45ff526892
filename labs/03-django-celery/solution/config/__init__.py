"""The Django project: settings, URLs, the WSGI entry point and the Celery app."""

# BEGIN EXERCISE 3.1
# Loading Django loads the Celery app too, so @shared_task binds to it (its
# broker, queues and routes) in the API process, not to a default app.
from .celery_app import app as celery_app

__all__ = ("celery_app",)
# STARTER
# __all__ = ()
# END EXERCISE 3.1
