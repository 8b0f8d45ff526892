"""Settings, read from the environment (and the repository's `.env` file) with safe local defaults.

Every variable is listed in the repository's `.env.example`. The checkpoints
point the same names at their own database, Redis index and RabbitMQ vhost.
The `.env` file is found from this file's place, not from the working
directory, so `uvicorn`, `celery` and a notebook read the same settings
wherever they were started. The checkpoints shorten the delays through
`[checkpoints] env` in lab.toml.

Lab 05 is lab 04 pointed at `make cluster`: every address below lists every
node of its server (`make lab05` and the checkpoints give each its own vhost,
Redis database and MongoDB database on the same nodes).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# The repository's .env, found from this file's place (labs/NN-name/<solution|exercise>/app/core/config.py).
# A container has no repository around its code: there, the environment alone.
_PARENTS = Path(__file__).resolve().parents
ENV_FILE = _PARENTS[5] / ".env" if len(_PARENTS) > 5 else None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=ENV_FILE, extra="ignore")

    PROJECT_NAME: str = "Queue Labs, lab 05: beyond one machine"

    # The replica set: every member and the set's name, never directConnection (that pins one member).
    MONGODB_URL: str = "mongodb://127.0.0.1:27101,127.0.0.1:27102,127.0.0.1:27103/?replicaSet=queuelabs-cluster"
    MONGODB_DB: str = "queuelabs"
    # Redis is found through its Sentinels, which know which server is the primary right now: the API's
    # own client and, after exercise 5.5, Celery's results. (Not CELERY_RESULT_BACKEND: Celery reads that
    # name from the environment before its configuration, which would make 5.5 moot.)
    REDIS_URL: str = "sentinel://127.0.0.1:26391/0;sentinel://127.0.0.1:26392/0;sentinel://127.0.0.1:26393/0"
    REDIS_MASTER_NAME: str = "queuelabs"
    # One Redis server: the one that was the primary when the lab started (lab 04's way, one URL).
    # Exercise 5.5 replaces it; make lab05 and the checkpoints ask the Sentinels for it at start.
    REDIS_SERVER_URL: str = "redis://127.0.0.1:6391/0"
    # Every RabbitMQ node, separated by ';': Celery and kombu fail over from one to the next.
    CELERY_BROKER_URL: str = (
        "amqp://guest:guest@127.0.0.1:5701//;amqp://guest:guest@127.0.0.1:5702//;amqp://guest:guest@127.0.0.1:5703//"
    )

    # As in lab 02: the API's time limits, body limit, and its name behind a load balancer.
    HEALTH_TIMEOUT_SECONDS: float = Field(default=0.8, gt=0)
    BROKER_TIMEOUT_SECONDS: float = Field(default=2.0, gt=0)
    MAX_CONCURRENT_PUBLISHES: int = Field(default=2, gt=0)
    DATABASE_TIMEOUT_SECONDS: float = Field(default=0.8, gt=0)
    MAX_BODY_BYTES: int = Field(default=256 * 1024, gt=0)
    RESULT_TTL_SECONDS: int = Field(default=24 * 3600, gt=0)
    INSTANCE_NAME: str = ""

    # A worker's MongoDB socket read gives up after this long (the API's calls: DATABASE_TIMEOUT_SECONDS).
    MONGODB_SOCKET_TIMEOUT_MS: int = Field(default=10_000, gt=0)
    # The flaky payment service the task charges (the lab's `downstream` process).
    DOWNSTREAM_URL: str = "http://127.0.0.1:8044"
    # How long one iteration of the work sleeps before the charge.
    TASK_STEP_SECONDS: float = Field(default=0.2, ge=0)

    # Retries: full-jitter exponential backoff, delay = random(0, min(cap, base * 2**retry)).
    RETRY_BASE_SECONDS: float = Field(default=1.0, gt=0)
    RETRY_CAP_SECONDS: float = Field(default=30.0, gt=0)
    MAX_RETRIES: int = Field(default=8, ge=0)

    # Time limits: one downstream call, then the whole task (soft, then hard).
    DOWNSTREAM_TIMEOUT_SECONDS: float = Field(default=5.0, gt=0)
    # Lab 04's 30 s and 40 s are shorter than a task can wait on the cluster: a node cut off holds
    # the task's writes until MongoDB and Redis have failed over (about 30 s measured), and a limit
    # that fires then stops a task that was about to succeed, racing the worker's own bookkeeping.
    SOFT_TIME_LIMIT_SECONDS: float = Field(default=90.0, gt=0)
    HARD_TIME_LIMIT_SECONDS: float = Field(default=120.0, gt=0)

    # How long a completed Idempotency-Key is remembered, and how long an in-flight one locks.
    IDEMPOTENCY_TTL_SECONDS: int = Field(default=24 * 3600, gt=0)
    IDEMPOTENCY_LOCK_SECONDS: int = Field(default=60, gt=0)


settings = Settings()
