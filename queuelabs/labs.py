"""The labs as data: each lab's `lab.toml` (exercises, hints, processes)."""

from __future__ import annotations

import os
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .settings import LABS_DIR

CODE_CHOICES = ("exercise", "solution")


class LabError(Exception):
    """A mistake in how a lab was asked for; the message is one line for a learner."""


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    file: str
    hints: tuple[str, ...]

    @property
    def first_hint(self) -> str:
        return self.hints[0] if self.hints else ""


@dataclass(frozen=True)
class Lab:
    id: str
    title: str
    dir: Path
    port: int
    needs: tuple[str, ...]
    processes: dict[str, str] = field(default_factory=dict)
    exercises: tuple[Exercise, ...] = ()

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
        """The argv of one `[processes]` entry with its placeholders filled in."""
        if process not in self.processes:
            known = ", ".join(self.processes) or "none"
            raise LabError(f"lab {self.id} has no process {process!r} (it has: {known})")
        host = host or os.environ.get("QUEUELABS_BIND_HOST", "127.0.0.1")
        text = self.processes[process].format(host=host, port=port or self.port)
        return shlex.split(text)

    def exercise(self, exercise_id: str) -> Exercise:
        for ex in self.exercises:
            if ex.id == exercise_id:
                return ex
        raise LabError(f"lab {self.id} has no exercise {exercise_id}")


def load_lab(lab_dir: Path) -> Lab:
    with open(lab_dir / "lab.toml", "rb") as fh:
        data = tomllib.load(fh)
    meta = data["lab"]
    exercises = tuple(
        Exercise(
            id=str(ex["id"]),
            title=ex["title"],
            file=ex["file"],
            hints=tuple(ex.get("hints", ())),
        )
        for ex in data.get("exercise", ())
    )
    return Lab(
        id=str(meta["id"]),
        title=meta["title"],
        dir=lab_dir,
        port=int(meta["port"]),
        needs=tuple(meta.get("needs", ())),
        processes=dict(data.get("processes", {})),
        exercises=exercises,
    )


def all_labs(root: Path = LABS_DIR) -> list[Lab]:
    return [load_lab(path.parent) for path in sorted(root.glob("*/lab.toml"))]


def find_lab(lab_id: str, root: Path = LABS_DIR) -> Lab:
    """Accepts "2", "02" or the folder name."""
    wanted = str(lab_id).strip()
    for lab in all_labs(root):
        if wanted in (lab.id, lab.name) or wanted.zfill(2) == lab.id:
            return lab
    known = ", ".join(lab.id for lab in all_labs(root)) or "none yet"
    raise LabError(f"there is no lab {wanted!r} (labs: {known})")


def find_exercise(exercise_id: str, root: Path = LABS_DIR) -> tuple[Lab, Exercise]:
    """"2.1" lives in lab 02."""
    try:
        lab = find_lab(exercise_id.split(".")[0], root)
        return lab, lab.exercise(exercise_id)
    except LabError:
        known = ", ".join(ex.id for lab in all_labs(root) for ex in lab.exercises)
        raise LabError(f"there is no exercise {exercise_id!r} (exercises: {known})") from None
