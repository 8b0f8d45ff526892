"""Mutants: the wrong answers learners really write, each proven to fail its exercise.

A lab declares them in `checkpoints/mutants.toml`, next to the checkpoints:

    [[mutant]]
    exercise = "2.4"
    name = "blocking AsyncResult in the async route"
    file = "app/api/routes/tasks.py"     # in the code folder
    find = "meta = await run_in_threadpool(celery_app.backend.get_task_meta, task_id)"
    replace = "meta = celery_app.backend.get_task_meta(task_id)"
    expect = ["event loop"]              # words the failure message must contain
    checkpoint = "test_2_4_blocking_read.py"   # optional: the file that names it, run first

`make prove` copies the solution, makes the one change, runs that exercise's
checkpoints only (stopping at the first failure) and requires the exercise to
read FAIL with every `expect` word in what the grader told the learner. A
mutant that passes is a checkpoint bug; a `find` text that is no longer in the
solution is an error that names the mutant (the solution moved on: update it).

A lab's mutants share one copy of the solution: each change is made in it, graded, and undone
before the next. Their runs keep the lab's processes warm as `make check` does (queuelabs/warm.py):
a process is reused only while every file it loads is the one it started with, so the processes
that load the changed file start again on the mutant's code (and, when the file declares queues or
indexes, every process on a rebuilt test stack), while the others are not started anew for each
mutant. A process a checkpoint starts for itself is never reused.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from . import warm
from .checkpoint_runs import checkpoint_argv, rel
from .labs import Lab
from .settings import REPO_ROOT

KEYS = {"exercise", "name", "file", "find", "replace", "expect"}
OPTIONAL = {"checkpoint"}  # the checkpoint file that names this mistake: run first, so -x stops there


@dataclass(frozen=True)
class Mutant:
    exercise: str
    name: str
    file: str
    find: str
    replace: str
    expect: tuple[str, ...]
    checkpoint: str | None = None

    def label(self) -> str:
        return f"mutant {self.exercise} '{self.name}'"


class MutantError(Exception):
    """A mutants.toml entry that cannot be applied; the message names it."""


def mutants_file(lab: Lab) -> Path:
    return lab.checkpoints_dir / "mutants.toml"


def load(lab: Lab) -> list[Mutant]:
    path = mutants_file(lab)
    if not path.is_file():
        return []
    entries = tomllib.loads(path.read_text()).get("mutant", [])
    mutants = []
    known = {ex.id for ex in lab.exercises}
    for number, entry in enumerate(entries, 1):
        where = f"{path.relative_to(REPO_ROOT)}, mutant #{number}"
        if unknown := set(entry) - KEYS - OPTIONAL:
            raise MutantError(f"{where}: unknown keys {sorted(unknown)} (allowed: {sorted(KEYS | OPTIONAL)})")
        if missing := KEYS - set(entry):
            raise MutantError(f"{where}: missing {sorted(missing)}")
        if entry["exercise"] not in known:
            raise MutantError(f"{where}: exercise {entry['exercise']} is not in lab {lab.id}")
        if not entry["expect"]:
            raise MutantError(f"{where}: expect names no word of the failure message")
        if "checkpoint" in entry and not (lab.checkpoints_dir / entry["checkpoint"]).is_file():
            raise MutantError(f"{where}: checkpoint {entry['checkpoint']} is not in {lab.checkpoints_dir.name}/")
        mutants.append(Mutant(**{**entry, "expect": tuple(entry["expect"])}))
    return mutants


def replace_once(text: str, find: str, replace: str, *, label: str, file: str, declared_in: str) -> str:
    """`text` with `find` replaced; MutantError naming `label` unless `find` occurs exactly once.

    Also used by `make bench` for the tuned variant's edits (queuelabs/bench/tuned.py)."""
    found = text.count(find)
    if found != 1:
        state = "is no longer" if found == 0 else f"occurs {found} times"
        raise MutantError(
            f"{label}: its find text {state} in {file}: "
            f"update {declared_in} to the solution's current code ({find.strip()[:60]!r})"
        )
    return text.replace(find, replace)


COPY_IGNORE = shutil.ignore_patterns("__pycache__", "celerybeat-schedule*")


def mutated(mutant: Mutant, solution_dir: Path) -> str:
    """The text of the mutant's file with its one change made (MutantError naming it if it cannot be)."""
    source = solution_dir / mutant.file
    if not source.is_file():
        raise MutantError(f"{mutant.label()}: {mutant.file} is not in the solution")
    where = {"label": mutant.label(), "file": mutant.file, "declared_in": "checkpoints/mutants.toml"}
    return replace_once(source.read_text(), mutant.find, mutant.replace, **where)


def apply(mutant: Mutant, solution_dir: Path, target_dir: Path) -> None:
    """Copy the solution into target_dir with the mutant's one change made."""
    text = mutated(mutant, solution_dir)
    shutil.copytree(solution_dir, target_dir, ignore=COPY_IGNORE)
    (target_dir / mutant.file).write_text(text)


@contextmanager
def applied(mutant: Mutant, solution_dir: Path, code_dir: Path) -> Iterator[None]:
    """The mutant's one change made in code_dir (a copy of the solution) for the block, then undone."""
    text = mutated(mutant, solution_dir)
    target = code_dir / mutant.file
    original = target.read_bytes()
    write_source(target, text.encode())
    try:
        yield
    finally:
        write_source(target, original)


def write_source(path: Path, data: bytes) -> None:
    """Write a module's source and drop its compiled copy: Python trusts a .pyc whose recorded
    size and mtime (whole seconds) match, which a same-length change in the same second would."""
    path.write_bytes(data)
    for compiled in (path.parent / "__pycache__").glob(f"{path.stem}.*.pyc"):
        compiled.unlink(missing_ok=True)


def told_the_learner(report: dict, exercise_id: str) -> str:
    """Everything the grader said about the exercise's failed checkpoints, as one text."""
    records = report.get(exercise_id, {}).get("tests", [])
    return "\n".join(
        " ".join(r.get(key) or "" for key in ("why", "detail", "error")) for r in records if r["outcome"] == "failed"
    )


def prove(lab: Lab, exercises: set[str] | None = None) -> list[str]:
    """Each mutant (of `exercises`, default all) must FAIL its exercise with its `expect` words."""
    try:
        mutants = load(lab)
    except (MutantError, tomllib.TOMLDecodeError) as exc:
        return [f"lab {lab.id}: {exc}"]
    problems = []
    covered = {m.exercise for m in mutants}
    problems += [f"lab {lab.id} exercise {ex.id}: has no mutant" for ex in lab.exercises if ex.id not in covered]
    mutants = [m for m in mutants if exercises is None or m.exercise in exercises]
    total_start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"queuelabs-mutants-{lab.id}-") as tmp:
        code_dir = Path(tmp) / "code"
        shutil.copytree(lab.solution_dir, code_dir, ignore=COPY_IGNORE)
        try:
            for number, mutant in enumerate(mutants, 1):
                try:
                    with applied(mutant, lab.solution_dir, code_dir):
                        problem = run_one(lab, mutant, code_dir, Path(tmp) / f"mutant-{number}")
                        if problem is not None and MET_AN_OUTAGE in problem:
                            problem = run_one(lab, mutant, code_dir, Path(tmp) / f"mutant-{number}-again")
                except MutantError as exc:
                    problems.append(str(exc))
                    print(f"  ERROR  {exc}", flush=True)
                    continue
                if problem is not None:
                    problems.append(problem)
        finally:
            warm.stop_all()  # the lab's processes kept warm for the next mutant, stopped by pid
    print(f"  {len(mutants)} mutants in {time.monotonic() - total_start:.0f} s", flush=True)
    return problems


def run_one(lab: Lab, mutant: Mutant, code_dir: Path, files: Path) -> str | None:
    """Grade code_dir (the mutant applied) on the mutant's exercise; None when it failed as it should."""
    files.mkdir()
    report_path, log_path = files / "grade.json", files / "pytest.log"
    argv = checkpoint_argv(lab, str(code_dir), report_path, warm=True)
    if mutant.checkpoint:  # the named file first, then the others: pytest runs files in argument order
        first = lab.checkpoints_dir / mutant.checkpoint
        others = sorted(p for p in lab.checkpoints_dir.glob("test_*.py") if p != first)
        folder = argv.index(rel(lab.checkpoints_dir))
        argv[folder : folder + 1] = [rel(p) for p in (first, *others)]
    argv += ["--exercise", mutant.exercise, "-x", "--tb=short", "-rN"]
    start = time.monotonic()
    with log_path.open("w") as log:
        subprocess.run(argv, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, check=False)
    took = time.monotonic() - start
    problem = judge(mutant, report_path)
    if problem is not None and MET_AN_OUTAGE in problem:
        print(f"  again  {mutant.label()} ({took:.0f} s): {MET_AN_OUTAGE}, before it reached the mistake", flush=True)
        return problem
    mark = "ok    " if problem is None else "WRONG "
    print(f"  {mark} {mutant.label()} ({took:.0f} s)", flush=True)
    if problem is not None:
        tail = log_path.read_text(errors="replace").splitlines()[-25:]
        print("\n".join(f"         | {line}" for line in tail), flush=True)
    return problem


# A check that got a 503 (a server of the stack missed the API's time limit: a very busy machine)
# failed the mutant for a reason that is not the mutant's: it is graded once more.
MET_AN_OUTAGE = "the API answered 503 on the way"


def judge(mutant: Mutant, report_path: Path) -> str | None:
    """None when the mutant failed its exercise as it should; else what went wrong."""
    if not report_path.exists():
        return f"{mutant.label()}: pytest ended before grading"
    report = json.loads(report_path.read_text())
    status = report.get(mutant.exercise, {}).get("status")
    if status != "failed":
        return f"{mutant.label()}: the exercise reads '{status}', not 'failed': a checkpoint lets this mistake pass"
    said = told_the_learner(report, mutant.exercise)
    missing = [word for word in mutant.expect if word.lower() not in said.lower()]
    if missing and "503" in said and not any("503" in word for word in mutant.expect):
        return f"{mutant.label()}: {MET_AN_OUTAGE}: {said[:300]!r}"
    if missing:
        return f"{mutant.label()}: it fails, but the message does not name the mistake (no {missing}): {said[:300]!r}"
    return None


def main() -> None:  # pragma: no cover - `python -m queuelabs.mutants 02 [2.4 2.5]`: one lab's mutants only
    from .labs import find_lab

    problems = prove(find_lab(sys.argv[1]), set(sys.argv[2:]) or None)
    print("\n".join(problems) or "every mutant fails its exercise")
    raise SystemExit(1 if problems else 0)


if __name__ == "__main__":
    main()
