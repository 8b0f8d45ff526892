"""Settings, read from the environment and the repository's `.env`, with safe local defaults.

Every variable is listed in the repository's `.env.example`. The `.env` path is
computed from this file, so the settings are the same whatever folder a
process starts in. The checkpoints shorten the delays through `[checkpoints] env`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# labs/04-retries-idempotency/<solution|exercise>/app/core/config.py -> the repository root
REPO_ENV_FILE = Path(__file__).resolve().parents[5] / ".env"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=REPO_ENV_FILE, extra="ignore")

    MONGODB_URL: str = "mongodb://127.0.0.1:27017/?directConnection=true"
    MONGODB_DB: str = "queuelabs"
    MONGODB_SOCKET_TIMEOUT_MS: int = Field(default=10_000, gt=0)
    REDIS_URL: str = "redis://127.0.0.1:6379/0"
    CELERY_BROKER_URL: str = "amqp://guest:guest@127.0.0.1:5672//"
    CELERY_RESULT_BACKEND: str = "redis://127.0.0.1:6379/0"

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
    SOFT_TIME_LIMIT_SECONDS: float = Field(default=30.0, gt=0)
    HARD_TIME_LIMIT_SECONDS: float = Field(default=40.0, gt=0)

    # The API gives up on RabbitMQ after this long (a frozen broker is a 503, not a hang).
    PUBLISH_TIMEOUT_SECONDS: float = Field(default=3.0, gt=0)
    # How long a completed Idempotency-Key is remembered, and how long an in-flight one locks.
    IDEMPOTENCY_TTL_SECONDS: int = Field(default=24 * 3600, gt=0)
    IDEMPOTENCY_LOCK_SECONDS: int = Field(default=60, gt=0)
    # How long task results, and the record that an id was submitted, are kept.
    RESULT_TTL_SECONDS: int = Field(default=24 * 3600, gt=0)
    HEALTH_TIMEOUT_SECONDS: float = Field(default=0.8, gt=0)


@lru_cache
def get_settings() -> Settings:
    return Settings()


settings = get_settings()
