"""`queuelabs`: the command behind every make target. `queuelabs --help` lists them."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from . import probes, stack, starter
from .labs import CODE_CHOICES, Lab, LabError, all_labs, find_exercise, find_lab
from .processes import http_status, pid_file, read_pid, resolve, start_detached, stop_detached, tail, tracked_names
from .settings import (
    FLOWER_PORT,
    LOCAL_ENV,
    LOG_DIR,
    REPO_ROOT,
    RUN_DIR,
    SERVICES,
)

PROGRESS_DIR = RUN_DIR / "progress"
BACKUP_DIR = RUN_DIR / "backups"


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


# --- the stack ------------------------------------------------------------------


def cmd_up(args) -> int:
    unknown = [s for s in args.services if s not in SERVICES]
    if unknown:
        raise LabError(f"unknown service {unknown[0]!r}: choose from {', '.join(SERVICES)}")
    stack.up(args.services or None)
    print()
    return cmd_status(args)


def cmd_down(args) -> int:
    for name in tracked_names():
        if name.startswith("lab") and stop_detached(name):
            print(f"[stack] {name} stopped")
    stack.down()
    return 0


def cmd_status(args) -> int:
    print(f"Stack ({stack.mode()} mode):")
    rows = stack.status_rows()
    for title, address, state, owner in rows:
        print(f"  {title:<9} {state:<10} {address:<48} {owner}")
    labs = [n for n in tracked_names() if n.startswith("lab") and read_pid(n)]
    if labs:
        print("Lab processes started by `make labNN`:")
        for name in labs:
            print(f"  {name:<16} pid {read_pid(name):<8} log .run/logs/{name}.log")
    print("URLs:")
    print("  RabbitMQ management  http://127.0.0.1:15672 (guest / guest)")
    for lab in all_labs():
        print(f"  lab {lab.id} API          http://127.0.0.1:{lab.port}/docs")
    print(f"  Flower               http://127.0.0.1:{FLOWER_PORT}")
    return 0 if all(state == "answering" for _, _, state, _ in rows) else 1


def cmd_logs(args) -> int:
    files = sorted(LOG_DIR.glob("*.log")) if LOG_DIR.exists() else []
    if args.name:
        files = [f for f in files if f.stem.startswith(args.name)]
    if not files:
        print("no logs yet: they appear in .run/logs/ once `make up` or `make labNN` started something")
        return 1
    if args.follow:
        os.execvp("tail", ["tail", "-n", "20", "-F", *map(str, files)])
    for path in files:
        print(f"==> {_rel(path)} <==")
        print(subprocess.run(["tail", "-n", str(args.lines), str(path)], capture_output=True, text=True).stdout)
    return 0


# --- running a lab --------------------------------------------------------------

REFERENCE_VHOST = "queuelabs-reference"


def _lab_env(code: str) -> dict[str, str]:
    env = dict(os.environ)
    for key, value in LOCAL_ENV.items():
        env.setdefault(key, value)
    env["PYTHONUNBUFFERED"] = "1"
    env["QUEUELABS_CODE"] = code
    return env


def _reference_env() -> dict[str, str]:
    """The reference solution, run natively (demo, CODE=solution, load tests), gets its own
    RabbitMQ vhost: its queues (x-max-priority...) never clash with the learner's in `/`."""
    env = _lab_env("solution")
    broker = urlsplit(env["CELERY_BROKER_URL"])
    env["CELERY_BROKER_URL"] = urlunsplit(broker._replace(path=f"/{REFERENCE_VHOST}"))
    problem = stack.ensure_vhost(REFERENCE_VHOST)
    if problem:
        print(f"note: {problem}")
    return env


def _code_file(name: str) -> Path:
    return pid_file(name).with_suffix(".code")


def start_lab(lab: Lab, code: str) -> list[str]:
    """Start the lab's declared processes from `code` (exercise or solution) in the background.

    Processes already running from the same code are kept; from other code (the
    demo's reference, say) they are restarted, so "your code" is never a lie.
    Returns the names started; exits with a one-line error if one dies at start-up."""
    missing = [n for n in lab.needs if probes.probe(n, timeout=1.0)]
    if missing:
        stack.up(missing)
    code_dir = lab.code_dir(code)
    env = _reference_env() if code == "solution" and "rabbitmq" in lab.needs else _lab_env(code)
    started = []
    for proc in lab.processes:
        name = f"lab{lab.id}-{proc}"
        if read_pid(name):
            running = _code_file(name).read_text().strip() if _code_file(name).exists() else "?"
            if running == code:
                print(f"{name:<16} already running from {running}/ (pid {read_pid(name)})")
                continue
            print(f"{name:<16} was running {running}/: restarting it from {code}/")
            stop_detached(name)
        argv = lab.command(proc)
        start_detached(name, argv, cwd=code_dir, env=env)
        _code_file(name).write_text(code)
        started.append(name)
        print(f"{name:<16} started from {_rel(code_dir)}: {' '.join(argv)}")
    _wait_http(f"http://127.0.0.1:{lab.port}/", 30)
    for name in started:  # a worker that cannot declare its queues dies a second or two in
        if "worker" in name:
            _wait_log(LOG_DIR / f"{name}.log", " ready.", name, 30)
    dead = [name for name in started if not read_pid(name)]
    if dead:
        for name in dead:
            print(f"\n{name} exited during start-up; the end of .run/logs/{name}.log:")
            print(tail(LOG_DIR / f"{name}.log", 8))
        raise LabError(f"{', '.join(dead)} did not start: see the log lines above and the lesson's Troubleshooting")
    return started


def _wait_log(path: Path, text: str, name: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and read_pid(name):
        if path.exists() and text in path.read_text(errors="replace"):
            return
        time.sleep(0.3)


def cmd_lab(args) -> int:
    lab = find_lab(args.lab)
    if args.stop:
        for proc in lab.processes:
            if stop_detached(f"lab{lab.id}-{proc}"):
                print(f"stopped lab{lab.id}-{proc}")
        return 0
    start_lab(lab, args.code)
    print(
        f"\nLab {lab.id} is running {'the reference solution' if args.code == 'solution' else 'your code'} "
        f"({_rel(lab.code_dir(args.code))}):"
    )
    print(f"  API        http://127.0.0.1:{lab.port}/docs")
    if any("flower" in p for p in lab.processes):
        print(f"  Flower     http://127.0.0.1:{FLOWER_PORT}")
    if "rabbitmq" in lab.needs:
        vhost = f"vhost {REFERENCE_VHOST}" if args.code == "solution" else "vhost /"
        print(f"  RabbitMQ   http://127.0.0.1:15672 (guest / guest), {vhost}")
    print(f"  Logs       make logs NAME=lab{lab.id}      Stop: make lab{lab.id} STOP=1")
    return 0


def _wait_http(url: str, timeout: float, want_ok: bool = False) -> bool:
    """Wait until `url` answers (with 2xx when `want_ok`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = http_status(url, timeout=2)
        if status is not None and (not want_ok or 200 <= status < 300):
            return True
        time.sleep(0.3)
    print(f"note: {url} did not answer{' 200' if want_ok else ''} after {timeout:g} s; see `make logs`")
    return False


def cmd_run_process(args) -> int:
    """Run one of a lab's declared processes in the foreground (used by docker compose)."""
    lab = find_lab(args.lab)
    code = os.environ.get("QUEUELABS_CODE", "exercise")
    argv = resolve(lab.command(args.process))
    os.chdir(lab.code_dir(code))
    os.execvpe(argv[0], argv, _lab_env(code))


# --- grading --------------------------------------------------------------------


def _preflight(lab: Lab) -> bool:
    ok = True
    for name in lab.needs:
        reason = probes.probe(name, timeout=2.0)
        if reason is not None:
            print(probes.down_message(name, reason))
            ok = False
    return ok


def run_checkpoints(lab: Lab, code: str, extra: list[str], grade_json: Path | None = None) -> int:
    argv = [sys.executable, "-m", "pytest", _rel(lab.checkpoints_dir), "--code", code, "-p", "no:cacheprovider"]
    if grade_json is not None:
        argv += ["--grade-json", str(grade_json)]
    return subprocess.run(argv + extra, cwd=REPO_ROOT).returncode


def cmd_check(args) -> int:
    labs = [find_lab(args.lab)] if args.lab else [lab for lab in all_labs() if lab.exercises]
    worst = 0
    for lab in labs:
        if not _preflight(lab):
            return 3
        PROGRESS_DIR.mkdir(parents=True, exist_ok=True)
        report = PROGRESS_DIR / f"{lab.id}-{args.code}.json" if args.code in CODE_CHOICES else None
        # -rN: the exercise table is the summary; pytest's own list of FAILED lines would repeat it.
        code = run_checkpoints(lab, args.code, ["-rN", *args.pytest_args], report)
        # 1 means "graded, not everything passes yet": the table said so. Anything
        # else (pytest could not run, a usage error) is a real error.
        worst = max(worst, 0 if code == 1 and not args.strict else code)
    return worst


def cmd_hint(args) -> int:
    lab, ex = find_exercise(args.exercise)
    print(f"Exercise {ex.id}: {ex.title}")
    print(f"Edit:     {', '.join(_rel(lab.exercise_dir / f) for f in ex.files)} (look for `TODO Exercise {ex.id}`)")
    print(f"Lesson:   {_rel(lab.dir / 'README.md')}")
    print(f"Check:    make check LAB={lab.id}")
    for number, hint in enumerate(ex.hints, 1):
        print(f"\nHint {number}: {hint}")
    return 0


def _progress_of(lab: Lab) -> dict[str, str]:
    """Each exercise: passed / failed / not started / edited, not checked."""
    report = PROGRESS_DIR / f"{lab.id}-exercise.json"
    checked = json.loads(report.read_text()) if report.exists() else {}
    checked_at = report.stat().st_mtime if report.exists() else 0
    result = {}
    for ex in lab.exercises:
        path = lab.exercise_dir / ex.files[0]
        text = path.read_text(errors="replace") if path.exists() else ""
        edited_since = path.exists() and path.stat().st_mtime > checked_at
        if f"Exercise {ex.id} is not done yet" in text and ex.id not in checked:
            result[ex.id] = "not started"
        elif ex.id in checked and not edited_since:
            result[ex.id] = checked[ex.id]["status"]
        else:
            result[ex.id] = "not checked yet"
    return result


def cmd_progress(args) -> int:
    total = done = 0
    for lab in all_labs():
        if not lab.exercises:
            continue
        print(f"Lab {lab.id}: {lab.title}")
        for ex_id, status in _progress_of(lab).items():
            mark = {"passed": "PASS", "failed": "FAIL", "not started": "TODO"}.get(status, " ?? ")
            print(f"  {mark}  {ex_id:<5} {lab.exercise(ex_id).title:<50} {status}")
            total += 1
            done += status == "passed"
    print(f"\n{done} of {total} exercises complete (from your last `make check LAB=NN` of each lab)")
    return 0


# --- maintaining the starters -------------------------------------------------------


def cmd_starter(args) -> int:
    labs = [find_lab(args.lab)] if args.lab else all_labs()
    failed = False
    for lab in labs:
        if args.write:
            changed = starter.write(lab)
            print(
                f"lab {lab.id}: exercise/ {'regenerated: ' + ', '.join(changed) if changed else 'already up to date'}"
            )
            continue
        problems = starter.differences(lab)
        if not problems:
            print(f"lab {lab.id}: exercise/ matches the generator")
        elif os.environ.get("CI") or args.strict:
            failed = True
            print(f"lab {lab.id}: exercise/ is out of date with solution/ (run `make starter`):")
            for line in problems:
                print(f"  {line}")
        else:
            # A learner's own work differs from the starter by design; CI checks the committed tree.
            print(
                f"lab {lab.id}: exercise/ differs from the generated starter in {len(problems)} file(s) "
                "(your own work; CI enforces the match)"
            )
    return 1 if failed else 0


def cmd_prove(args) -> int:
    """Maintainers: every solution passes every checkpoint; every untouched starter fails them all."""
    labs = [find_lab(args.lab)] if args.lab else [lab for lab in all_labs() if lab.exercises]
    failures = []
    for lab in labs:
        if not _preflight(lab):
            return 3
        with tempfile.TemporaryDirectory(prefix=f"queuelabs-{lab.id}-") as tmp:
            if args.side in ("both", "solution"):
                print(f"\n=== lab {lab.id}: every checkpoint must PASS on the solution ===", flush=True)
                report = Path(tmp) / "solution.json"
                code = run_checkpoints(lab, "solution", [], report)
                failures += _judge(lab, report, code, want="pass")
                own_tests = lab.dir / "tests"
                if own_tests.is_dir():  # the solution's own unit tests, when the lab has them
                    print(f"\n=== lab {lab.id}: the solution's own tests ===", flush=True)
                    argv = [
                        sys.executable,
                        "-m",
                        "pytest",
                        _rel(own_tests),
                        "--code",
                        "solution",
                        "-p",
                        "no:cacheprovider",
                    ]
                    if subprocess.run(argv, cwd=REPO_ROOT).returncode != 0:
                        failures.append(f"lab {lab.id}: {_rel(own_tests)} failed on the solution")
            if args.side in ("both", "starter"):
                print(f"\n=== lab {lab.id}: every checkpoint must FAIL on the untouched starter ===", flush=True)
                starter_dir = Path(tmp) / "exercise"
                starter.write(lab, starter_dir)
                report = Path(tmp) / "starter.json"
                code = run_checkpoints(lab, str(starter_dir), ["--tb=no"], report)
                failures += _judge(lab, report, code, want="fail")
    print()
    if failures:
        print("PROVE FAILED:")
        for line in failures:
            print(f"  {line}")
        return 1
    print("prove: every solution passes and every untouched starter fails its checkpoints")
    return 0


def _judge(lab: Lab, report: Path, exit_code: int, *, want: str) -> list[str]:
    if not report.exists():
        return [f"lab {lab.id}: pytest ended before grading (exit {exit_code})"]
    data = json.loads(report.read_text())
    problems = []
    for ex in lab.exercises:
        tests = data.get(ex.id, {}).get("tests", [])
        if not tests:
            problems.append(f"lab {lab.id} exercise {ex.id}: has no checkpoint")
            continue
        for test in tests:
            if want == "pass" and test["outcome"] != "passed":
                problems.append(f"exercise {ex.id}: {test['test']} {test['outcome']} on the solution")
            if want == "fail" and test["outcome"] != "failed":
                problems.append(f"exercise {ex.id}: {test['test']} {test['outcome']} on the untouched starter")
    if want == "pass" and exit_code != 0 and not problems:
        problems.append(
            f"lab {lab.id}: pytest exited {exit_code} on the solution (a test outside the exercises failed?)"
        )
    return problems


def _backup(lab: Lab) -> Path:
    dest = BACKUP_DIR / f"{lab.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    shutil.copytree(lab.exercise_dir, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def cmd_reset(args) -> int:
    lab = find_lab(args.lab)
    saved = _backup(lab)
    starter.write(lab)
    for report in PROGRESS_DIR.glob(f"{lab.id}-*.json"):  # grades of the old code no longer hold
        report.unlink()
    print(f"lab {lab.id}: exercise/ is the untouched starter again (your version is saved in {_rel(saved)})")
    return 0


def cmd_jump(args) -> int:
    """Put the reference solution in place of every lab before LAB, so a learner can start at LAB."""
    target = find_lab(args.lab)
    for lab in all_labs():
        if lab.id >= target.id or not lab.exercises:
            continue
        saved = _backup(lab)
        shutil.rmtree(lab.exercise_dir)
        shutil.copytree(lab.solution_dir, lab.exercise_dir, ignore=shutil.ignore_patterns("__pycache__"))
        print(f"lab {lab.id}: solved with the reference solution (your version is saved in {_rel(saved)})")
    print(f"Ready for lab {target.id}: read {_rel(target.dir / 'README.md')}")
    return 0


# --- tours, load and notebooks ----------------------------------------------------


def cmd_compose(args) -> int:
    """docker compose with whichever Compose CLI is here (see stack.compose_command)."""
    return subprocess.run([*stack.compose_command(), *args.compose_args], cwd=REPO_ROOT).returncode


def _split_compose(argv: list[str]) -> list[str] | None:
    """`queuelabs compose ...` passes everything after `compose` to Compose untouched."""
    return argv[1:] if argv and argv[0] == "compose" else None


def cmd_demo(args) -> int:
    from .demo import run_demo

    return run_demo()


@contextlib.contextmanager
def _lab_running(lab: Lab, host: str | None):
    """Use the lab that already answers; else run its reference solution just for this."""
    if host or http_status(f"http://127.0.0.1:{lab.port}/") is not None:
        yield
        return
    print(
        f"Nothing answers on 127.0.0.1:{lab.port}: starting lab {lab.id}'s reference solution for this run "
        f"(run `make lab{lab.id}` first to load-test your own code)"
    )
    started = []
    try:
        started = start_lab(lab, "solution")
        if "rabbitmq" in lab.needs:
            _wait_http(f"http://127.0.0.1:{lab.port}/health", 30, want_ok=True)
        yield
    finally:
        for name in started:
            stop_detached(name)


def cmd_loadtest(args) -> int:
    from .loadtest import run_loadtest

    lab = find_lab(args.lab)
    with _lab_running(lab, args.host):
        return run_loadtest(lab.id, users=args.users, spawn_rate=args.rate, seconds=args.seconds, host=args.host)


def cmd_locust(args) -> int:
    from .loadtest import open_web_ui

    lab = find_lab(args.lab)
    with _lab_running(lab, args.host):
        return open_web_ui(lab.id, args.host)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="queuelabs", description="Queue Labs: the stack, the labs and the grader.")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name, func, help_text):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    p = add("up", cmd_up, "start RabbitMQ, Redis and MongoDB (docker compose, or natively)")
    p.add_argument("services", nargs="*", metavar="SERVICE", help="rabbitmq, redis, mongodb (default: all)")
    add("down", cmd_down, "stop everything the project started")
    add("status", cmd_status, "each service, whether it answers, and the URLs")
    p = add("logs", cmd_logs, "the last lines of every log in .run/logs")
    p.add_argument("name", nargs="?")
    p.add_argument("-f", "--follow", action="store_true")
    p.add_argument("-n", "--lines", type=int, default=20)
    p = add("lab", cmd_lab, "start a lab's processes (API, worker...) in the background")
    p.add_argument("lab")
    p.add_argument("--code", default="exercise", help="exercise (yours, default) or solution")
    p.add_argument("--stop", action="store_true")
    p = add("run-process", cmd_run_process, "run one declared process of a lab in the foreground")
    p.add_argument("lab")
    p.add_argument("process")
    p = add("check", cmd_check, "grade a lab's exercises (your code by default)")
    p.add_argument("lab", nargs="?")
    p.add_argument("--code", default="exercise")
    p.add_argument("--strict", action="store_true", help="exit 1 unless every exercise passes (for scripts)")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER)
    p = add("hint", cmd_hint, "the hints of one exercise")
    p.add_argument("exercise")
    add("progress", cmd_progress, "every lab, every exercise, done or not")
    p = add("starter", cmd_starter, "check (default) or --write the generated starters")
    p.add_argument("lab", nargs="?")
    p.add_argument("--write", action="store_true")
    p.add_argument("--strict", action="store_true", help="fail on any difference, as CI does")
    p = add("prove", cmd_prove, "maintainers: solutions pass, untouched starters fail")
    p.add_argument("lab", nargs="?")
    p.add_argument("--side", choices=["both", "solution", "starter"], default="both")
    p = add("reset", cmd_reset, "put the untouched starter back (your work is backed up)")
    p.add_argument("lab")
    p = add("jump", cmd_jump, "solve every lab before LAB with the reference solution")
    p.add_argument("lab")
    p = add("compose", cmd_compose, "run docker compose (Docker's plugin, or the bundled Compose CLI)")
    p.add_argument("compose_args", nargs=argparse.REMAINDER)
    add("demo", cmd_demo, "bring everything up and show the finished system")
    p = add("loadtest", cmd_loadtest, "a headless Locust run with reports")
    p.add_argument("lab")
    p.add_argument("--users", type=int, default=20)
    p.add_argument("--rate", type=int, default=10)
    p.add_argument("--seconds", type=int, default=20)
    p.add_argument("--host", default=None)
    p = add("locust", cmd_locust, "the Locust web UI on 127.0.0.1:8089")
    p.add_argument("lab")
    p.add_argument("--host", default=None)

    argv = sys.argv[1:] if argv is None else argv
    compose_args = _split_compose(argv)
    args = parser.parse_args(["compose"] if compose_args is not None else argv)
    if compose_args is not None:
        args.compose_args = compose_args
    try:
        return args.func(args) or 0
    except (LabError, stack.StackError, starter.RegionError) as exc:
        print(f"queuelabs: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
