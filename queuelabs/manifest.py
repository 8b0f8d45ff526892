"""The typed form of a lab's `lab.toml`: one manifest per lab, checked on load.

Everything that differs between labs is declared here once (the processes and
their ports, what the checkpoints need, the load-test scenario, the exercises
and their hints), so the platform holds nothing lab-specific. rustlings'
`info.toml` is the model. Unknown keys are errors: a typo never passes silently.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator

FORMAT_VERSION = 1
# "cluster": `make cluster`'s three replicated servers instead of the single node (lab 05).
ServiceName = Literal["rabbitmq", "redis", "mongodb", "cluster"]
NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class ManifestError(Exception):
    """A lab.toml that does not fit the format; the message is one line naming the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LabInfo(_Strict):
    id: Annotated[str, StringConstraints(pattern=r"^\d\d$")]
    title: NonEmpty
    needs: tuple[ServiceName, ...] = ()
    # The process that serves the lab's HTTP API (its port is the lab's port).
    api: NonEmpty
    # Commands run to completion in the code folder, with the lab's environment, before its
    # processes start (lab 03: Django's migrations, so no process writes a collection first).
    prepare: tuple[NonEmpty, ...] = ()


class Process(_Strict):
    """One program the lab runs: `make labNN` starts it natively, compose runs it in a container."""

    # Placeholders: {host} and {port} (this process's port; a free one in tests).
    command: NonEmpty
    port: int | None = Field(default=None, ge=1, le=65535)
    # How to know it is ready: "http" (its port answers HTTP), "celery" (the
    # worker answers a ping), or "started" (nothing to wait for).
    ready: Literal["http", "celery", "started"] = "started"
    # Reload on code changes when `make labNN` runs the learner's code.
    reload: bool = False

    @model_validator(mode="after")
    def _port_for_http(self) -> Process:
        if self.ready == "http" and self.port is None:
            raise ValueError("a process with ready = 'http' needs a port")
        if "{port}" in self.command and self.port is None:
            raise ValueError("the command uses {port} but the process has no port")
        return self


class Checkpoints(_Strict):
    # Extra environment for the graded code and every process a checkpoint starts
    # (for example, short task durations so a run takes seconds).
    env: dict[str, str] = Field(default_factory=dict)
    # RabbitMQ queues (in the checkpoints' own vhost) deleted before a run, so
    # every run starts with fresh queues and their current arguments.
    queues: tuple[str, ...] = ()
    # The graded code's Celery app, "module:attribute", for checks made in the
    # test process itself (its configuration, its result backend).
    celery_app: str | None = None


class LoadTest(_Strict):
    # The Locust file, relative to the repository root.
    scenario: NonEmpty
    # Run the scenario once per variant (LOADTEST_VARIANT=<name>) and compare
    # the `compare` request across them (lab 01: blocking vs fixed).
    variants: tuple[str, ...] = ()
    compare: str | None = None
    users: int = Field(default=20, ge=1)
    spawn_rate: int = Field(default=10, ge=1)
    seconds: int = Field(default=20, ge=1)
    # `make locust`'s form, for a projector (default: users and spawn_rate): enough users to
    # fill the queue on a 2-core laptop while the API stays fast.
    web_users: int | None = Field(default=None, ge=1)
    web_spawn_rate: int | None = Field(default=None, ge=1)
    # Environment for the scenario in `make locust` only (lab 02: its burst submitters).
    web_env: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _compare_needs_variants(self) -> LoadTest:
        if bool(self.variants) != bool(self.compare):
            raise ValueError("variants and compare go together")
        return self


class Exercise(_Strict):
    id: Annotated[str, StringConstraints(pattern=r"^\d+\.\d+$")]
    title: NonEmpty
    # The files (relative to the lab's code folder) that hold its regions.
    files: tuple[NonEmpty, ...] = Field(min_length=1)
    # Shown one at a time (`make hint EX=2.3`), so each may be a paragraph.
    hints: tuple[NonEmpty, ...] = Field(min_length=1)


class Manifest(_Strict):
    format_version: Literal[1]
    lab: LabInfo
    processes: dict[str, Process]
    checkpoints: Checkpoints = Checkpoints()
    loadtest: LoadTest | None = None
    exercise: tuple[Exercise, ...] = ()

    @field_validator("exercise")
    @classmethod
    def _unique_ids(cls, exercises: tuple[Exercise, ...]) -> tuple[Exercise, ...]:
        seen: set[str] = set()
        for ex in exercises:
            if ex.id in seen:
                raise ValueError(f"exercise {ex.id} is declared twice")
            seen.add(ex.id)
        return exercises

    @model_validator(mode="after")
    def _api_is_a_process(self) -> Manifest:
        api = self.processes.get(self.lab.api)
        if api is None or api.port is None:
            raise ValueError(f"lab.api names {self.lab.api!r}, which must be a process with a port")
        for ex in self.exercise:
            if not ex.id.startswith(f"{int(self.lab.id)}."):
                raise ValueError(f"exercise {ex.id} does not belong to lab {self.lab.id}")
        return self


def _where(error: dict) -> str:
    return ".".join(str(part) for part in error["loc"]) or "(top)"


def load_manifest(path: Path) -> Manifest:
    """Read and check one lab.toml; any problem is one ManifestError line."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ManifestError(f"{path}: {exc}") from None
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise ManifestError(f"{path}: format_version = {version!r}, this platform reads {FORMAT_VERSION}")
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ManifestError(f"{path}: {_where(first)}: {message}{more}") from None
