"""Settings, read from the environment (and the repository's `.env` file) with safe local defaults.

Every variable is listed in the repository's `.env.example`; the real
environment wins over the file. The `.env` file is found from this file's
place, not from the working directory, so the settings are the same wherever
the server was started.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# The repository's .env, found from this file's place (labs/NN-name/<solution|exercise>/app/core/config.py).
# A container has no repository around its code: there, the environment alone.
_PARENTS = Path(__file__).resolve().parents
ENV_FILE = _PARENTS[5] / ".env" if len(_PARENTS) > 5 else None


def _default_cpu_workers() -> int:
    # Keep one core for the event loop (and for whoever is calling us).
    return max(1, (os.cpu_count() or 2) - 1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=ENV_FILE, extra="ignore")

    MONGODB_URL: str = "mongodb://127.0.0.1:27017/?directConnection=true"
    MONGODB_DB: str = "queuelabs"
    # How long a MongoDB call may wait for a server before giving up.
    MONGODB_TIMEOUT_MS: int = 3000
    # Processes in the pool that runs CPU-bound reports (exercise 1.3).
    LAB01_CPU_WORKERS: int = Field(default_factory=_default_cpu_workers, gt=0)


settings = Settings()
