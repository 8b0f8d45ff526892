"""Grading outside pytest: run a lab's checkpoints, prove a lab, remember progress and hints.

`make check` runs the checkpoints in a pytest subprocess (the grader plugin
prints the table); `make prove` checks that every solution passes and every
untouched starter fails; `make progress` and `make hint` read what was saved
in .run/progress/.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from . import mutants, starter
from .checkpoint_runs import TABLE_ONLY, checkpoint_argv, rel  # noqa: F401 (TABLE_ONLY: for the CLI and tests)
from .labs import Exercise, Lab
from .settings import REPO_ROOT, RUN_DIR

PROGRESS_DIR = RUN_DIR / "progress"
HINTS_FILE = PROGRESS_DIR / "hints.json"


def run_checkpoints(
    lab: Lab, code: str, extra: list[str], grade_json: Path | None = None, *, warm: bool = False
) -> int:
    return run_to_the_end(checkpoint_argv(lab, code, grade_json, warm=warm) + extra)


def run_checkpoints_here(
    lab: Lab, code: str, extra: list[str], grade_json: Path | None = None, *, warm: bool = True
) -> int:
    """The same run in this process (`make check` of one lab): no second Python to start, and the
    modules this command already imported are not imported again. One run per process: the
    graded code it imports stays imported."""
    import pytest

    os.chdir(REPO_ROOT)
    exit_code = pytest.main(checkpoint_argv(lab, code, grade_json, warm=warm)[3:] + extra)
    if exit_code == pytest.ExitCode.INTERRUPTED:  # Ctrl+C: pytest has stopped what it started
        raise KeyboardInterrupt
    return int(exit_code)


def run_to_the_end(argv: list[str]) -> int:
    """Run pytest and wait for it, Ctrl+C included.

    A Ctrl+C in the terminal reaches pytest too (same process group), and pytest
    then stops the servers and workers it started. subprocess.run would SIGKILL
    pytest a quarter of a second later, in the middle of that teardown, and its
    processes would keep running: so this waits until pytest has finished, then
    stops the command too (no next lab after a Ctrl+C)."""
    interrupted = False
    with subprocess.Popen(argv, cwd=REPO_ROOT) as pytest_run:
        while True:
            try:
                exit_code = pytest_run.wait()
                break
            except KeyboardInterrupt:
                interrupted = True
    if interrupted:
        raise KeyboardInterrupt
    return exit_code


def report_path(lab: Lab, code: str) -> Path:
    return PROGRESS_DIR / f"{lab.id}-{code}.json"


def clear_reports(lab: Lab) -> None:
    """Grades of code that was replaced (reset, jump) no longer hold."""
    for report in PROGRESS_DIR.glob(f"{lab.id}-*.json"):
        report.unlink()


# --- prove: every solution passes, every untouched starter and every mutant fails ----


def prove(lab: Lab, side: str = "all") -> list[str]:
    """The problems found (an empty list means the lab is proven)."""
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix=f"queuelabs-{lab.id}-") as tmp:
        if side in ("all", "solution"):
            own_tests = lab.dir / "tests"
            # The solution's own tests (when the lab has them) run after the checkpoints, in the same
            # run: on the lab's API and worker already started, not on a second start of each.
            extra = [rel(own_tests)] if own_tests.is_dir() else []
            also = f" (then {rel(own_tests)}, the solution's own tests)" if extra else ""
            print(f"\n=== lab {lab.id}: every checkpoint must PASS on the solution{also} ===", flush=True)
            report = Path(tmp) / "solution.json"
            failures += judge(lab, report, run_checkpoints(lab, "solution", extra, report), want="pass")
        if side in ("all", "starter"):
            print(f"\n=== lab {lab.id}: every checkpoint must FAIL on the untouched starter ===", flush=True)
            starter_dir = Path(tmp) / "exercise"
            starter.write(lab, starter_dir)
            report = Path(tmp) / "starter.json"
            # --run-untouched: every checkpoint really runs against the starter and must fail on it.
            code = run_checkpoints(lab, str(starter_dir), ["--tb=no", "--run-untouched"], report)
            failures += judge(lab, report, code, want="fail")
    if side in ("all", "mutants"):
        print(
            f"\n=== lab {lab.id}: every mutant (a wrong answer learners write) must FAIL its exercise ===", flush=True
        )
        failures += mutants.prove(lab)
    return failures


@contextmanager
def busy_cpus(processes: int) -> Iterator[None]:
    """`processes` CPU-bound loops for the duration (make prove LOAD=2): correct code must pass on a
    busy laptop too. Stopped by pid at the end, however the block ends."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)]
    if spinners:
        print(f"prove under load: {processes} CPU-bound process(es), pids {[p.pid for p in spinners]}", flush=True)
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def judge(lab: Lab, report: Path, exit_code: int, *, want: str) -> list[str]:
    if not report.exists():
        return [f"lab {lab.id}: pytest ended before grading (exit {exit_code})"]
    data = json.loads(report.read_text())
    problems = []
    for ex in lab.exercises:
        tests = data.get(ex.id, {}).get("tests", [])
        if not tests:
            problems.append(f"lab {lab.id} exercise {ex.id}: has no checkpoint")
            continue
        status = data[ex.id].get("status")
        if want == "fail" and status != "not started":  # what `make check` shows a learner who has not begun
            problems.append(f"exercise {ex.id}: reads '{status}' on the untouched starter, not 'not started'")
        for test in tests:
            if want == "pass" and test["outcome"] != "passed":
                problems.append(f"exercise {ex.id}: {test['test']} {test['outcome']} on the solution")
            if want == "fail" and test["outcome"] != "failed":
                problems.append(f"exercise {ex.id}: {test['test']} {test['outcome']} on the untouched starter")
    if want == "pass" and exit_code != 0 and not problems:
        problems.append(
            f"lab {lab.id}: pytest exited {exit_code} on the solution: a test outside the exercises failed "
            f"(the solution's own tests in {rel(lab.dir / 'tests')}?)"
        )
    return problems


# --- progress ------------------------------------------------------------------------


def progress_of(lab: Lab) -> dict[str, str]:
    """Each exercise: passed / jumped (the reference, by `make jump`) / failed / not started / not checked yet.

    "not started" needs no check: the exercise's starter blocks are still as
    generated. Otherwise the last `make check` says, unless a file changed since."""
    report = report_path(lab, "exercise")
    checked = json.loads(report.read_text()) if report.exists() else {}
    checked_at = report.stat().st_mtime if report.exists() else 0
    fresh = starter.untouched(lab, lab.exercise_dir)
    result = {}
    for ex in lab.exercises:
        paths = [lab.exercise_dir / f for f in ex.files]
        edited_since = any(p.exists() and p.stat().st_mtime > checked_at for p in paths)
        if ex.id in fresh:
            result[ex.id] = "not started"
        elif ex.id in checked and not edited_since:
            # Filled by `make jump`, not your work: said apart.
            result[ex.id] = "jumped" if checked[ex.id].get("jumped") else checked[ex.id]["status"]
        else:
            result[ex.id] = "not checked yet"
    return result


def record_solved(lab: Lab) -> None:
    """After `make jump`: the lab's exercise/ is the reference, which passes every checkpoint (CI proves it)."""
    PROGRESS_DIR.mkdir(parents=True, exist_ok=True)
    solved = {
        ex.id: {"status": "passed", "tests": [], "why": "the reference solution (make jump)", "jumped": True}
        for ex in lab.exercises
    }
    report_path(lab, "exercise").write_text(json.dumps(solved, indent=2))


# --- hints, one at a time --------------------------------------------------------------


def next_hints(ex: Exercise, *, all_hints: bool) -> list[tuple[int, str]]:
    """The hints to show now: the next one not yet seen (the last again once all were), or all."""
    if all_hints:
        return list(enumerate(ex.hints, 1))
    seen = json.loads(HINTS_FILE.read_text()) if HINTS_FILE.exists() else {}
    shown = min(seen.get(ex.id, 0) + 1, len(ex.hints))
    seen[ex.id] = shown
    PROGRESS_DIR.mkdir(parents=True, exist_ok=True)
    HINTS_FILE.write_text(json.dumps(seen, indent=2))
    return [(shown, ex.hints[shown - 1])]
