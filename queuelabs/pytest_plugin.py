"""The grader: a pytest plugin loaded for every run (see pyproject.toml).

- `@pytest.mark.exercise("2.3")` ties a checkpoint to an exercise.
- `--code exercise|solution|PATH` chooses whose code is graded (default: the
  learner's `exercise/` folder).
- At the end it prints a table of exercises, the hint of the first one that
  is not complete, and "N of M exercises complete".
- Starter code that was not touched yet (NotImplementedError, an HTTP 501 from
  it, an ImportError) reads as "not started", in one line, not a traceback.
- Fixtures start real servers and real Celery workers against the real
  services, isolated from the learner's own stack.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections import defaultdict
from pathlib import Path

import pytest

from . import probes
from .stack import ensure_test_vhost
from .checkpoint import NOT_DONE, ExerciseNotStarted
from .labs import CODE_CHOICES, Lab, LabError, load_lab
from .processes import ManagedProcess, free_port
from .settings import LOG_DIR, REPO_ROOT, TEST_ENV

# Outcomes of each exercise's checkpoints, filled in as tests report.
_results: dict[str, list[dict]] = defaultdict(list)
_live: list[ManagedProcess] = []


# --- options and configuration ---------------------------------------------

def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("queuelabs", "Queue Labs grader")
    group.addoption(
        "--code",
        default=os.environ.get("QUEUELABS_CODE", "exercise"),
        help="whose code to grade: exercise (yours, the default), solution, or a folder",
    )
    group.addoption("--grade-json", default=None, help="also write each exercise's outcome to this JSON file")
    group.addoption(
        "--show-logs",
        action="store_true",
        default=os.environ.get("CI") == "true",
        help="print the last lines of every server's log under a failed checkpoint (default: only their paths; on in CI)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "exercise(id): the exercise this checkpoint grades, e.g. '2.3'")
    lab = _lab_for_args(config.args)
    config._queuelabs_lab = lab
    config._queuelabs_code_dir = None
    if lab is not None:
        try:
            code_dir = lab.code_dir(config.getoption("code"))
        except LabError as exc:
            raise pytest.UsageError(str(exc)) from None
        config._queuelabs_code_dir = code_dir
        # The graded code is imported as `app` (or the lab's own package).
        sys.path.insert(0, str(code_dir))
    # Checkpoints never touch the learner's data: see settings.TEST_ENV.
    os.environ.update(TEST_ENV)


def _lab_for_args(args: list[str]) -> Lab | None:
    """The lab whose folder holds the first path given to pytest (nearest lab.toml)."""
    for arg in args:
        path = Path(arg.split("::")[0]).resolve()
        for folder in (path, *path.parents):
            if (folder / "lab.toml").is_file():
                return load_lab(folder)
    return None


# --- fixtures ---------------------------------------------------------------

@pytest.fixture(scope="session")
def lab(request: pytest.FixtureRequest) -> Lab:
    found = request.config._queuelabs_lab
    if found is None:
        pytest.fail("this test is not inside a lab folder (labs/NN-*/checkpoints)", pytrace=False)
    return found


@pytest.fixture(scope="session")
def code_dir(request: pytest.FixtureRequest, lab: Lab) -> Path:
    return request.config._queuelabs_code_dir


@pytest.fixture(scope="session")
def test_env() -> dict[str, str]:
    """The environment of every process a checkpoint starts."""
    env = dict(os.environ)
    env.update(TEST_ENV)
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("QUEUELABS_BIND_HOST", None)
    return env


@pytest.fixture(scope="session")
def stack(lab: Lab) -> None:
    """Stop the whole run with one line if a service the lab needs is down."""
    for name in lab.needs:
        reason = probes.probe(name, timeout=2.0)
        if reason is not None:
            pytest.exit(probes.down_message(name, reason), returncode=3)
    if "rabbitmq" in lab.needs:
        problem = ensure_test_vhost()
        if problem:
            pytest.exit(f"RabbitMQ answers, but {problem}: restart the stack with: make down up", returncode=3)


class Spawner:
    """Starts processes for tests and stops them when their scope ends."""

    def __init__(self, code_dir: Path, env: dict[str, str], scope: str):
        self.code_dir, self.env, self.scope = code_dir, env, scope
        self.started: list[ManagedProcess] = []

    def __call__(
        self,
        argv: list[str],
        *,
        name: str | None = None,
        port: int | None = None,
        ready_url: str | None = None,
        ready_log: str | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float = 30.0,
    ) -> ManagedProcess:
        argv = list(argv)
        name = name or Path(argv[0]).name
        if Path(argv[0]).name == "celery" and "worker" in argv:
            # Unique, so a learner's own worker never answers for this one.
            argv.append(f"--hostname=checkpoint-{uuid.uuid4().hex[:8]}@%h")
            ready_log = ready_log or " ready."
        merged = dict(self.env)
        merged.update(env or {})
        log_path = LOG_DIR / "checkpoints" / f"{name}-{uuid.uuid4().hex[:6]}.log"
        proc = ManagedProcess(name, argv, cwd=cwd or self.code_dir, env=merged, log_path=log_path)
        proc.port = port
        proc.url = f"http://127.0.0.1:{port}" if port else None
        proc.start()
        self.started.append(proc)
        _live.append(proc)
        try:
            proc.wait_ready(port=None if ready_url else port, url=ready_url, log_text=ready_log, timeout=timeout)
        except RuntimeError as exc:
            pytest.fail(str(exc), pytrace=False)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            proc.stop()
            if proc in _live:
                _live.remove(proc)
        self.started.clear()


@pytest.fixture
def spawn(code_dir: Path, test_env: dict[str, str]):
    """spawn(argv, port=..., ready_url=..., ready_log=...) -> a running process."""
    spawner = Spawner(code_dir, test_env, "function")
    yield spawner
    spawner.stop_all()


@pytest.fixture(scope="session")
def session_spawn(code_dir: Path, test_env: dict[str, str]):
    """Like `spawn`, but the processes live for the whole run."""
    spawner = Spawner(code_dir, test_env, "session")
    yield spawner
    spawner.stop_all()


def lab_process_starter(lab: Lab, spawner: Spawner):
    def start(process: str, *, env: dict[str, str] | None = None, extra_args: tuple[str, ...] = (), **kw):
        port = free_port() if "{port}" in lab.processes.get(process, "") else None
        argv = lab.command(process, port=port, host="127.0.0.1") + list(extra_args)
        return spawner(argv, name=process, port=port, env=env, **kw)

    return start


@pytest.fixture
def start_lab_process(lab: Lab, spawn: Spawner):
    """start_lab_process("api") runs the lab's declared process on a free port."""
    return lab_process_starter(lab, spawn)


@pytest.fixture(scope="session")
def session_lab_process(lab: Lab, session_spawn: Spawner):
    return lab_process_starter(lab, session_spawn)


# --- grading ----------------------------------------------------------------

def _not_started(excinfo: pytest.ExceptionInfo | None, code_dir: Path | None) -> str | None:
    """A one-line reason when the failure only shows untouched starter code."""
    if excinfo is None:
        return None
    exc = excinfo.value
    if isinstance(exc, ExerciseNotStarted):
        return str(exc)
    match = NOT_DONE.search(str(exc))
    if match:  # NotImplementedError itself, or a server log / body that shows it
        return match.group(0)
    if isinstance(exc, ImportError) and code_dir is not None:
        return f"the code does not import yet: {exc}"
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    marker = item.get_closest_marker("exercise")
    reason = _not_started(call.excinfo, item.config._queuelabs_code_dir) if report.failed else None
    if report.failed and _live and not reason:
        if item.config.getoption("show_logs"):  # what the servers said when the test failed
            for proc in list(_live):
                report.sections.append((f"log of {proc.name} (last lines, {proc.log_path})", proc.log_tail(15)))
        else:  # a learner gets where to look, not a wall of server output
            paths = ", ".join(f"{p.name}: {_rel(p.log_path)}" for p in _live)
            report.sections.append(("server logs", paths))
    if marker is None:
        return
    exercise_id = str(marker.args[0])
    if report.when == "call" or report.failed or report.skipped:
        if reason:
            report.longrepr = _not_started_line(item.config, exercise_id, reason)
            report.sections.clear()
        outcome_name = "passed" if report.passed else ("skipped" if report.skipped else "failed")
        if report.when != "call" and report.passed:
            return
        _results[exercise_id].append(
            {"test": item.nodeid, "outcome": outcome_name, "not_started": bool(reason)}
        )


def _not_started_line(config: pytest.Config, exercise_id: str, reason: str) -> str:
    lab: Lab = config._queuelabs_lab
    if reason.startswith(f"Exercise {exercise_id} is not done yet"):
        try:
            where = _rel(config._queuelabs_code_dir / lab.exercise(exercise_id).file)
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


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    lab: Lab | None = config._queuelabs_lab
    if lab is None or not lab.exercises or not _results:
        return  # not a checkpoint run (a lab's own tests, the platform's)
    selected = _selected_exercises(lab)
    statuses = {ex.id: exercise_status(_results.get(ex.id, [])) for ex in selected}
    tr = terminalreporter
    who = _describe_code(config)
    tr.section(f"Lab {lab.id}: {lab.title} - grading {who}")
    marks = {"passed": "PASS", "failed": "FAIL", "not started": "TODO", "incomplete": "SKIP", "no checkpoints": "----"}
    width = max(len(ex.title) for ex in selected) + 2
    for ex in selected:
        status = statuses[ex.id]
        tr.write_line(f"  {marks[status]}  {ex.id:<5} {ex.title:<{width}} {status}")
    done = sum(1 for s in statuses.values() if s == "passed")
    first_open = next((ex for ex in selected if statuses[ex.id] != "passed"), None)
    if first_open is not None:
        tr.write_line("")
        tr.write_line(f"Next: exercise {first_open.id}, in {_rel(config._queuelabs_code_dir / first_open.file)}")
        tr.write_line(f"Hint: {first_open.first_hint}")
        tr.write_line(f"More hints: make hint EX={first_open.id}")
    tr.write_line("")
    tr.write_line(f"{done} of {len(selected)} exercises complete")
    path = config.getoption("grade_json")
    if path:
        data = {ex.id: {"status": statuses[ex.id], "tests": _results.get(ex.id, [])} for ex in selected}
        Path(path).write_text(json.dumps(data, indent=2))


def _selected_exercises(lab: Lab):
    """All of the lab's exercises, or only those whose checkpoints were run (-k, one file)."""
    ran = set(_results)
    if ran and ran != {ex.id for ex in lab.exercises}:
        return [ex for ex in lab.exercises if ex.id in ran]
    return list(lab.exercises)


def _describe_code(config: pytest.Config) -> str:
    code = config.getoption("code")
    if code in CODE_CHOICES:
        return {"exercise": "your code (exercise/)", "solution": "the reference solution"}[code]
    return _rel(config._queuelabs_code_dir)


def _rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)
