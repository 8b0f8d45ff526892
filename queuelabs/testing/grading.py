"""The grader: the exercise table at the end of a checkpoint run.

- `@pytest.mark.exercise("2.3")` ties a checkpoint to an exercise.
- At the end it prints, per lab, a table of exercises, the hint of the first
  one that is not complete, and "N of M exercises complete".
- Starter code that was not touched yet (NotImplementedError, an HTTP 501 from
  it, an ImportError) reads as "not started", in one line, not a traceback.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from queuelabs.imports import compile_error
from queuelabs.labs import CODE_CHOICES, Lab, LabError
from queuelabs.log_excerpts import first_error, first_error_in_traceback
from queuelabs.settings import REPO_ROOT
from queuelabs.waiting import eventually

from .checks import NOT_DONE, ExerciseNotStarted
from .plugin import STATE, LabRun, exercise_of, lab_run_for
from .spawn import live_processes

# On the run's config (pytest's stash), never in this module: each lab's exercises' checkpoint
# outcomes, filled in as tests report, and the code that does not compile (graded once, as one
# message, instead of a failure per test).
RESULTS = pytest.StashKey[dict[Path, dict[str, list[dict]]]]()
SYNTAX_ERRORS = pytest.StashKey[dict[Path, str]]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[RESULTS] = defaultdict(lambda: defaultdict(list))
    config.stash[SYNTAX_ERRORS] = {}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """A lab whose code does not compile is not graded test by test: it is reported once."""
    syntax_errors = config.stash[SYNTAX_ERRORS]
    runs = {item: lab_run_for(config, item.path) for item in items}
    for run in {run.lab.dir: run for run in runs.values() if run is not None}.values():  # once per lab
        if run.lab.dir not in syntax_errors and (error := compile_error(run.code_dir, _rel)):
            syntax_errors[run.lab.dir] = error
    keep = [item for item, run in runs.items() if run is None or run.lab.dir not in syntax_errors]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in keep])
        items[:] = keep


@pytest.hookimpl(tryfirst=True)
def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config):
    """With --table-only, no letter per test: an F would say "failed" about work not started yet."""
    if config.getoption("table_only"):
        return report.outcome, "", ""
    return None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if session.config.stash[SYNTAX_ERRORS] and exitstatus in (0, 5):
        session.exitstatus = 1  # not graded is not passed


def _not_started(excinfo: pytest.ExceptionInfo | None) -> str | None:
    """A one-line reason when the failure only shows untouched starter code."""
    if excinfo is None:
        return None
    exc = excinfo.value
    if isinstance(exc, ExerciseNotStarted):
        return str(exc)
    match = NOT_DONE.search(str(exc))
    if match:  # NotImplementedError itself, or a server log / body that shows it
        return match.group(0)
    if isinstance(exc, ImportError):
        return f"the code does not import yet: {exc}"
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Where each server's log stands now: an error logged during this test is this test's."""
    item.stash[_LOG_OFFSETS] = {id(proc): _size(proc.log_path) for proc in live_processes(item.config)}


_LOG_OFFSETS = pytest.StashKey[dict]()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


ANSWERED_500 = '" 500 '  # uvicorn's and gunicorn's access lines: ... "POST /path HTTP/1.1" 500 ...


def learner_error(item: pytest.Item, call: pytest.CallInfo, run: LabRun) -> str:
    """The first error raised in the graded code during this test: in this process, or in a server's log."""
    if call.excinfo is not None and (found := first_error_in_traceback(call.excinfo, run.code_dir, _rel)):
        return found
    offsets = item.stash.get(_LOG_OFFSETS, {})
    # @pytest.mark.provokes("ValueError: iterations"): an error the checkpoint causes on purpose.
    provoked = tuple(str(arg) for marker in item.iter_markers("provokes") for arg in marker.args)

    def logged_since_setup() -> list[str]:
        texts = []
        for proc in list(live_processes(item.config)):
            try:
                with open(proc.log_path, "rb") as log:
                    log.seek(offsets.get(id(proc), 0))
                    texts.append(log.read(2_000_000).decode(errors="replace"))
            except OSError:
                continue
        return texts

    def in_a_log() -> str | None:
        texts = logged_since_setup()
        return next((found for text in texts if (found := first_error(text, run.code_dir, _rel, provoked))), None)

    if found := in_a_log():
        return found
    # A server logs its exception AFTER it sent the 500 (Starlette re-raises once the answer is out),
    # so a 500 in an access log without its traceback yet: give the log a moment to catch up.
    if any(ANSWERED_500 in text for text in logged_since_setup()):
        return eventually(in_a_log, timeout=1.0) or ""
    return ""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    run = lab_run_for(item.config, item.path)
    exercise_id = exercise_of(item)
    reason = _not_started(call.excinfo) if report.failed else None
    if report.failed and run is not None and exercise_id in run.untouched:
        reason = f"Exercise {exercise_id} is not done yet"  # its starter block is still as generated
    live = live_processes(item.config)
    if report.failed and live and not reason:
        if item.config.getoption("show_logs"):  # what the servers said when the test failed
            for proc in list(live):
                report.sections.append((f"log of {proc.name} (last lines, {proc.log_path})", proc.log_tail(15)))
        else:  # a learner gets where to look, not a wall of server output
            paths = ", ".join(f"{p.name}: {_rel(p.log_path)}" for p in live)
            report.sections.append(("server logs", paths))
    if exercise_id is None or run is None:
        return
    if report.when == "call" or report.failed or report.skipped:
        if reason:
            report.longrepr = _not_started_line(run, exercise_id, reason)
            report.sections.clear()
        if report.when != "call" and report.passed:
            return
        outcome_name = "passed" if report.passed else ("skipped" if report.skipped else "failed")
        error = learner_error(item, call, run) if report.failed and not reason else ""
        item.config.stash[RESULTS][run.lab.dir][exercise_id].append(
            {
                "test": item.nodeid,
                "outcome": outcome_name,
                "not_started": bool(reason),
                "why": _first_line(call),
                "detail": _whole_message(call),
                "error": error,
            }
        )


def _first_line(call: pytest.CallInfo) -> str:
    """What a failed checkpoint said first: the thing still missing, in one line."""
    if call.excinfo is None:
        return ""
    lines = [line.strip() for line in str(call.excinfo.value).splitlines() if line.strip()]
    return (lines[0] if lines else call.excinfo.typename)[:200]


def _whole_message(call: pytest.CallInfo) -> str:
    """All a failed checkpoint said (make prove reads a mutant's named mistake in it)."""
    return str(call.excinfo.value)[:2000] if call.excinfo is not None else ""


def _not_started_line(run: LabRun, exercise_id: str, reason: str) -> str:
    if reason.startswith(f"Exercise {exercise_id} is not done yet"):
        try:
            where = " and ".join(_rel(run.code_dir / f) for f in run.lab.exercise(exercise_id).files)
        except LabError:
            where = "the exercise file"
        return f"Exercise {exercise_id} not started: edit {where} where it says `TODO Exercise {exercise_id}`"
    return f"Exercise {exercise_id} not started: {reason}"


def exercise_status(records: list[dict]) -> str:
    """passed / not started / failed / incomplete for one exercise's checkpoints."""
    if not records:
        return "no checkpoints"
    outcomes = {r["outcome"] for r in records}
    if outcomes == {"passed"}:
        return "passed"
    failures = [r for r in records if r["outcome"] == "failed"]
    if failures and all(r["not_started"] for r in failures) and not any(r["outcome"] == "passed" for r in records):
        return "not started"
    if "failed" in outcomes:
        return "failed"
    return "incomplete"  # something was skipped: not a pass


MARKS = {"passed": "PASS", "failed": "FAIL", "not started": "TODO", "incomplete": "SKIP", "no checkpoints": "----"}


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    state, syntax_errors = config.stash[STATE], config.stash[SYNTAX_ERRORS]
    for lab_dir, error in syntax_errors.items():
        run = state.runs[lab_dir]
        terminalreporter.section(f"Lab {run.lab.id}: your code does not compile, so nothing could be graded")
        terminalreporter.write_line(f"  {error}")
        terminalreporter.write_line("")
        where = error.splitlines()[0]  # "labs/02-.../app/services.py, line 141"
        terminalreporter.write_line(f"Next: fix {where}, then `make check LAB={run.lab.id}` again.")
    graded = {
        ex.id: {"status": "failed", "tests": [], "why": "the code does not compile"}
        for lab_dir in syntax_errors
        for ex in state.runs[lab_dir].lab.exercises
    }
    for lab_dir, results in config.stash[RESULTS].items():
        run = state.runs[lab_dir]
        selected = _selected_exercises(run.lab, results)
        statuses = {ex.id: exercise_status(results.get(ex.id, [])) for ex in selected}
        for ex in selected:  # its code was changed, yet the checkpoints still reach a TODO: half done
            if statuses[ex.id] == "not started" and ex.id not in run.untouched:
                statuses[ex.id] = "failed"
                where = " and ".join(_rel(run.code_dir / f) for f in ex.files)
                for record in results.get(ex.id, []):
                    record["why"] = f"part of it is not written yet: every `TODO Exercise {ex.id}` in {where}"
        _print_table(terminalreporter, config, run, selected, statuses)
        graded.update({ex.id: {"status": statuses[ex.id], "tests": results.get(ex.id, [])} for ex in selected})
    path = config.getoption("grade_json")
    if path and graded:
        Path(path).write_text(json.dumps(graded, indent=2))


def _print_table(tr, config: pytest.Config, run: LabRun, selected, statuses: dict[str, str]) -> None:
    lab = run.lab
    tr.section(f"Lab {lab.id}: {lab.title} - grading {_describe_code(config, run)}")
    width = max(len(ex.title) for ex in selected) + 2
    results = config.stash[RESULTS][lab.dir]
    for ex in selected:
        status = statuses[ex.id]
        tr.write_line(f"  {MARKS[status]}  {ex.id:<5} {ex.title:<{width}} {status}")
        failed = [r for r in results.get(ex.id, []) if r["outcome"] == "failed"]
        why = next((r["why"] for r in failed if r["why"]), "")
        if status == "failed" and why:
            tr.write_line(f"{'':9}still missing: {why}")
        error = next((r.get("error") for r in failed if r.get("error")), "")
        if status == "failed" and error:  # the cause, which the server's log holds
            tr.write_line(f"{'':9}your code raised: {error}")
    done = sum(1 for s in statuses.values() if s == "passed")
    first_open = next((ex for ex in selected if statuses[ex.id] != "passed"), None)
    if first_open is not None:
        tr.write_line("")
        where = " and ".join(_rel(run.code_dir / f) for f in first_open.files)  # 4.1 lives in two files
        tr.write_line(f"Next: exercise {first_open.id}, in {where}")
        tr.write_line(f"Hint: {' '.join(first_open.hints[0].split())}")
        tr.write_line(f"More hints: make hint EX={first_open.id}")
    tr.write_line("")
    tr.write_line(f"{done} of {len(selected)} exercises complete")


def _selected_exercises(lab: Lab, results: dict[str, list[dict]]):
    """All of the lab's exercises, or only those whose checkpoints were run (-k, one file)."""
    ran = set(results)
    if ran and ran != {ex.id for ex in lab.exercises}:
        return [ex for ex in lab.exercises if ex.id in ran]
    return list(lab.exercises)


def _describe_code(config: pytest.Config, run: LabRun) -> str:
    code = config.getoption("code")
    if code in CODE_CHOICES:
        return {"exercise": "your code (exercise/)", "solution": "the reference solution"}[code]
    return _rel(run.code_dir)


def _rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)
