"""Settings from the environment and the repository's `.env`, with safe local defaults (see `.env.example`)."""

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

    PROJECT_NAME: str = "Queue Labs, lab 02: FastAPI + Celery"

    MONGODB_URL: str = "mongodb://127.0.0.1:27017/?directConnection=true"
    MONGODB_DB: str = "queuelabs"
    REDIS_URL: str = "redis://127.0.0.1:6379/0"
    CELERY_BROKER_URL: str = "amqp://guest:guest@127.0.0.1:5672//"
    CELERY_RESULT_BACKEND: str = "redis://127.0.0.1:6379/0"

    # How long one iteration of the heavy task sleeps (the "work"); the checkpoints shorten it.
    TASK_STEP_SECONDS: float = Field(default=0.5, ge=0)
    # How long "sending" a welcome email takes.
    EMAIL_SECONDS: float = Field(default=1.0, ge=0)
    # Each check of GET /health gives up after this long.
    HEALTH_TIMEOUT_SECONDS: float = Field(default=0.8, gt=0)
    # Every call to RabbitMQ (connect, declare, publish and its confirm) gives up after this long: 503.
    BROKER_TIMEOUT_SECONDS: float = Field(default=2.0, gt=0)
    # At most this many publishes wait on RabbitMQ at once (each holds a thread meanwhile).
    MAX_CONCURRENT_PUBLISHES: int = Field(default=2, gt=0)
    # Every call to MongoDB or Redis gives up after this long: 503.
    DATABASE_TIMEOUT_SECONDS: float = Field(default=0.8, gt=0)
    # The largest request body the API reads (413 above it).
    MAX_BODY_BYTES: int = Field(default=256 * 1024, gt=0)
    # How long task results, and the record that an id was submitted, are kept.
    RESULT_TTL_SECONDS: int = Field(default=24 * 3600, gt=0)
    # This replica's name in the X-Instance response header (empty: hostname:port).
    INSTANCE_NAME: str = ""


settings = Settings()
