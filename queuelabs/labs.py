"""The labs as data: each lab folder with its checked manifest (lab.toml)."""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .errors import LabError
from .manifest import Exercise, Manifest, Process, load_manifest
from .settings import HOST, LABS_DIR, Corner, corner

CODE_CHOICES = ("exercise", "solution")

__all__ = [
    "CODE_CHOICES",
    "Exercise",
    "Lab",
    "LabError",
    "Process",
    "all_labs",
    "find_exercise",
    "find_lab",
    "load_lab",
]


@dataclass(frozen=True)
class Lab:
    dir: Path
    manifest: Manifest

    # --- what the manifest declares ------------------------------------------
    @property
    def id(self) -> str:
        return self.manifest.lab.id

    @property
    def title(self) -> str:
        return self.manifest.lab.title

    @property
    def needs(self) -> tuple[str, ...]:
        return self.manifest.lab.needs

    @property
    def processes(self) -> dict[str, Process]:
        return self.manifest.processes

    @property
    def api_process(self) -> str:
        return self.manifest.lab.api

    @property
    def port(self) -> int:
        return self.processes[self.api_process].port  # checked on load: the API has a port

    @property
    def exercises(self) -> tuple[Exercise, ...]:
        return self.manifest.exercise

    # --- where things are --------------------------------------------------------
    @property
    def name(self) -> str:
        return self.dir.name

    @property
    def solution_dir(self) -> Path:
        return self.dir / "solution"

    @property
    def exercise_dir(self) -> Path:
        return self.dir / "exercise"

    @property
    def checkpoints_dir(self) -> Path:
        return self.dir / "checkpoints"

    # --- where it runs: your code and the reference side by side (settings.CORNERS) ----
    def corner(self, code: str) -> Corner:
        return corner(self.id, code)

    def port_of(self, process: str, code: str) -> int | None:
        """A process's port: as declared for your code, moved up by 100 for the reference."""
        declared = self.processes[process].port
        return self.corner(code).port(declared) if declared else None

    def url(self, code: str = "exercise", process: str | None = None) -> str:
        """Where a process answers (the API by default): http://127.0.0.1:8002 (yours), :8102 (the reference)."""
        return f"http://{HOST}:{self.port_of(process or self.api_process, code)}"

    def process_names_for(self, code: str) -> dict[str, str]:
        """Process -> the name its pid file and log use: `api` -> `lab02-api` (yours), `lab02-ref-api`."""
        prefix = self.corner(code).prefix
        return {proc: f"{prefix}-{proc}" for proc in self.processes}

    @cached_property
    def process_names(self) -> dict[str, str]:
        """Your code's process names: `api` -> `lab02-api`."""
        return self.process_names_for("exercise")

    @cached_property
    def all_process_names(self) -> list[str]:
        """Yours, then the reference's."""
        return [*self.process_names.values(), *self.process_names_for("solution").values()]

    def code_dir(self, code: str) -> Path:
        """`exercise` (the learner's), `solution`, or a path to a folder."""
        if code == "exercise":
            return self.exercise_dir
        if code == "solution":
            return self.solution_dir
        path = Path(code).resolve()
        if not path.is_dir():
            raise LabError(f"--code {code!r} is neither 'exercise', 'solution' nor a folder")
        return path

    def command(self, process: str, *, port: int | None = None, host: str | None = None) -> list[str]:
        """The argv of one process with its placeholders filled in."""
        if process not in self.processes:
            known = ", ".join(self.processes) or "none"
            raise LabError(f"lab {self.id} has no process {process!r} (it has: {known})")
        declared = self.processes[process]
        host = host or os.environ.get("QUEUELABS_BIND_HOST", "127.0.0.1")
        return shlex.split(declared.command.format(host=host, port=port or declared.port))

    def exercise(self, exercise_id: str) -> Exercise:
        for ex in self.exercises:
            if ex.id == exercise_id:
                return ex
        raise LabError(f"lab {self.id} has no exercise {exercise_id}")


def load_lab(lab_dir: Path) -> Lab:
    return Lab(dir=lab_dir, manifest=load_manifest(lab_dir / "lab.toml"))


def all_labs(root: Path = LABS_DIR) -> list[Lab]:
    return [load_lab(path.parent) for path in sorted(root.glob("*/lab.toml"))]


def find_lab(lab_id: str, root: Path = LABS_DIR) -> Lab:
    """Accepts "2", "02" or the folder name."""
    wanted = str(lab_id).strip()
    labs = all_labs(root)
    for lab in labs:
        if wanted in (lab.id, lab.name) or wanted.zfill(2) == lab.id:
            return lab
    known = ", ".join(lab.id for lab in labs) or "none yet"
    raise LabError(f"there is no lab {wanted!r} (labs: {known})")


def find_exercise(exercise_id: str, root: Path = LABS_DIR) -> tuple[Lab, Exercise]:
    """ "2.1" lives in lab 02."""
    try:
        lab = find_lab(exercise_id.split(".")[0], root)
        return lab, lab.exercise(exercise_id)
    except LabError:
        known = ", ".join(ex.id for lab in all_labs(root) for ex in lab.exercises)
        raise LabError(f"there is no exercise {exercise_id!r} (exercises: {known})") from None
