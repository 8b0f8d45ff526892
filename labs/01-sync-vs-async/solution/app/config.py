"""Settings from the environment, with local defaults (see .env.example)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# The repository's .env (labs/01-sync-vs-async/solution/app/config.py -> the
# repository root), whatever folder the server was started from. The real
# environment wins over the file.
ENV_FILE = Path(__file__).resolve().parents[4] / ".env"


def _default_cpu_workers() -> int:
    # Keep one core for the event loop (and for whoever is calling us).
    return max(1, (os.cpu_count() or 2) - 1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=ENV_FILE, extra="ignore")

    mongodb_url: str = "mongodb://127.0.0.1:27017/?directConnection=true"
    mongodb_db: str = "queuelabs"
    # How long a MongoDB call may wait for a server before giving up.
    mongodb_timeout_ms: int = 3000
    # Processes in the pool that runs CPU-bound reports (exercise 1.3).
    cpu_workers: int = Field(default_factory=_default_cpu_workers, validation_alias="LAB01_CPU_WORKERS")


settings = Settings()
