"""Django settings for lab 03, read from the environment with safe local defaults.

The variable names are lab 02's (MONGODB_URL, MONGODB_DB,
CELERY_BROKER_URL, CELERY_RESULT_BACKEND...), read typed with django-environ, listed in the repository's
`.env.example`. The repository's `.env`, if there is one, is read wherever the
process starts (its path comes from this file's, not from the working
directory); the real environment wins over it. The checkpoints point the same
names at their own database, Redis index and RabbitMQ vhost.

Every Celery setting is here too, as CELERY_<NAME>: config/celery_app.py loads
them with `config_from_object("django.conf:settings", namespace="CELERY")`.
"""

from __future__ import annotations

from pathlib import Path

import environ
from kombu import Exchange, Queue

BASE_DIR = Path(__file__).resolve().parent.parent  # the code folder: solution/ or exercise/
# The repository root is the first folder above with a pyproject.toml.
REPO_ROOT = next((p for p in BASE_DIR.parents if (p / "pyproject.toml").is_file()), BASE_DIR)
env = environ.Env()  # typed reads: env.str, env.float, env.bool, env.list...
environ.Env.read_env(REPO_ROOT / ".env")  # fills only what the real environment leaves unset


# --- the services ---------------------------------------------------------------
MONGODB_URL = env.str("MONGODB_URL", default="mongodb://127.0.0.1:27017/?directConnection=true")
MONGODB_DB = env.str("MONGODB_DB", default="queuelabs")

# --- the lab's knobs (the checkpoints make the work short) ------------------------
TASK_STEP_SECONDS = env.float("TASK_STEP_SECONDS", default=0.5)  # one iteration of the heavy task
EMAIL_SECONDS = env.float("EMAIL_SECONDS", default=1.0)  # "sending" a welcome email
HEALTH_TIMEOUT_SECONDS = env.float("HEALTH_TIMEOUT_SECONDS", default=0.8)  # each check of GET /health
PUBLISH_TIMEOUT_SECONDS = env.float("PUBLISH_TIMEOUT_SECONDS", default=2.0)  # a submission's whole publish
# At most this many submissions per API process wait for RabbitMQ at once; the next
# waits this long for a turn, then is refused (503): a hung broker never takes every thread.
PUBLISH_SLOTS = env.int("PUBLISH_SLOTS", default=4)
PUBLISH_SLOT_WAIT_SECONDS = env.float("PUBLISH_SLOT_WAIT_SECONDS", default=0.25)
RESULT_TTL_SECONDS = env.int("RESULT_TTL_SECONDS", default=24 * 3600)  # results and submission records
DIGEST_INTERVAL_SECONDS = env.float("DIGEST_INTERVAL_SECONDS", default=3600)  # how often beat queues the digest
INSTANCE_NAME = env.str("INSTANCE_NAME", default="")  # this replica's X-Instance header (empty: the process id)

# --- Django -----------------------------------------------------------------------
# Signs sessions and admin logins. None is committed: `make lab03` and the checkpoints set
# DJANGO_SECRET_KEY (a random key kept in .run/django-secret-key); set your own anywhere else.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
# Django answers 400 to any other Host header: Location headers are built from a
# host it has checked, never from whatever a client sends.
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])

INSTALLED_APPS = [
    "config.apps.MongoAdminConfig",
    "config.apps.MongoAuthConfig",
    "config.apps.MongoContentTypesConfig",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_mongodb_backend",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "jobs",
]

MIDDLEWARE = [
    "config.middleware.InstanceHeader",  # X-Instance: which process answered (first, so every answer has it)
    "config.middleware.BodySizeLimit",  # 413 over 256 KB, before any other middleware reads the body
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
# The body limit BodySizeLimit checks (config/middleware.py): the same number here.
DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024
# The contract's paths have no trailing slash, and a POST cannot be redirected.
APPEND_SLASH = False

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": {
        # django_mongodb_backend, with a fix for a failed commit (config/mongodb/base.py)
        "ENGINE": "config.mongodb",
        "HOST": MONGODB_URL,
        "NAME": MONGODB_DB,
        # MongoClient options: timeoutMS bounds each whole operation, retries included:
        # a server that is down or hung costs 2 s, not 30.
        "OPTIONS": {"timeoutMS": 2000, "serverSelectionTimeoutMS": 2000, "connectTimeoutMS": 2000},
    }
}
DEFAULT_AUTO_FIELD = "django_mongodb_backend.fields.ObjectIdAutoField"
MIGRATION_MODULES = {
    "admin": "mongo_migrations.admin",
    "auth": "mongo_migrations.auth",
    "contenttypes": "mongo_migrations.contenttypes",
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["config.parsers.JSONParser"],  # DRF's own, plus: too deep is a 400
    # The API is open (as lab 02's); sessions are for the admin only.
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "config.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Queue Labs, lab 03: Django + Celery",
    "DESCRIPTION": "Items on MongoDB; heavy work queued through RabbitMQ to Celery workers.",
    "VERSION": "1.0.0",
    # Swagger UI and ReDoc from the sidecar package: they work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}

# --- Celery (config/celery_app.py reads every CELERY_* name) ------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="amqp://guest:guest@127.0.0.1:5672//")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="redis://127.0.0.1:6379/0")
CELERY_RESULT_EXPIRES = RESULT_TTL_SECONDS
CELERY_RESULT_EXTENDED = True

# Fail fast when a server is down, instead of hanging the caller.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = 2
CELERY_REDIS_SOCKET_TIMEOUT = 5

# Publisher confirms: RabbitMQ says "I have it" before a submission answers 202.
CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True}

CELERY_WORKER_SEND_TASK_EVENTS = True  # Flower shows every task as it moves

# JSON only: never unpickle what comes off a network.
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Acknowledge after the task ran, give it back if the worker dies, hold one at a time.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TRACK_STARTED = True

# The same queues as lab 02, plus one for the periodic digest. Priorities only
# work on a queue declared with x-max-priority.
MAX_PRIORITY = 10
PRIORITY_LEVELS = {"low": 1, "normal": 5, "high": 9}
CELERY_TASK_QUEUES = (
    Queue("default", Exchange("default", type="direct"), routing_key="default"),
    Queue(
        "reports",
        Exchange("reports", type="direct"),
        routing_key="reports",
        queue_arguments={"x-max-priority": MAX_PRIORITY},
    ),
    Queue("emails", Exchange("emails", type="direct"), routing_key="emails"),
    Queue("digests", Exchange("digests", type="direct"), routing_key="digests"),
)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_CREATE_MISSING_QUEUES = False

# TODO Exercise 3.6: Route the emails to a worker of their own. emails.send_welcome has
# no route, so it lands on the default queue and the main worker sends it. Route every
# emails.* task to the emails queue, which only the emails worker (-Q emails) reads.
# `make hint EX=3.6` shows more hints; `make check LAB=03` grades your work.
CELERY_TASK_ROUTES = {
    "reports.hourly_digest": {"queue": "digests"},
    "reports.*": {"queue": "reports"},
}

# TODO Exercise 3.5: A periodic digest: celery beat, on a queue of its own.
# CELERY_BEAT_SCHEDULE is empty, so `celery beat` queues nothing. Add one entry that
# queues the task "reports.hourly_digest" every DIGEST_INTERVAL_SECONDS, on the digests
# queue.
# `make hint EX=3.5` shows more hints; `make check LAB=03` grades your work.
CELERY_BEAT_SCHEDULE: dict = {}
# beat remembers when each entry last ran in a small file: keep it out of the code
# folder, in the repository's run folder, one per code folder (solution/, exercise/).
# Never share it between two beats: they would corrupt it. Importing settings creates
# nothing (a read-only container must still import them): whoever starts beat makes the folder.
_RUN_DIR = env.path("QUEUELABS_RUN_DIR", default=REPO_ROOT / ".run")
CELERY_BEAT_SCHEDULE_FILENAME = env.str(
    "CELERY_BEAT_SCHEDULE_FILENAME", default=str(Path(_RUN_DIR) / f"lab03-{BASE_DIR.name}-celerybeat-schedule")
)
