"""`make watch LAB=02`: re-grade the exercise you are editing every time you save.

Rustlings' watch mode for the labs: watchfiles reports which files of the code
folder changed, lab.toml's `[[exercise]] files` says which exercises live in
them, and only those are graded (one pytest run, the same checkpoints and the
same table rows as `make check`). Of the exercises in a saved file, the ones
you started and have not passed yet are graded; once they pass, saving the
file grades all the started ones again, so a regression shows at once.
Ctrl+C stops it, and any grading still running, cleanly: no server or
worker of that run is left behind, whether Ctrl+C is pressed once or twice.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import watchfiles

from . import starter
from .checkpoint_runs import TABLE_ONLY, checkpoint_argv, rel
from .labs import Exercise, Lab, load_lab
from .processes import lost_its_child, read_pid
from .settings import LOG_DIR, REPO_ROOT

POLL_SECONDS = 2.0
STOPPED_POLLS = 3  # a reloader without its process for 3 checks in a row (about 6 s) has really stopped
ERROR_WORDS = ("Error", "error:", "Exception", "PRECONDITION_FAILED", "in use")

# The table's rows ("  PASS  2.3 ...") and the lines indented under them.
ROW = re.compile(r"^  (PASS|FAIL|TODO|SKIP|----)  ")
DETAIL = re.compile(r"^ {4,}\S")


def exercises_in(lab: Lab, code_dir: Path, changed: set[Path]) -> list[Exercise]:
    """The exercises whose files are among `changed` (paths anywhere under code_dir)."""
    names = set()
    for path in changed:
        try:
            names.add(Path(path).resolve().relative_to(code_dir.resolve()).as_posix())
        except ValueError:
            continue
    return [ex for ex in lab.exercises if names & set(ex.files)]


def to_grade(lab: Lab, code_dir: Path, candidates: list[Exercise], passed: set[str]) -> list[Exercise]:
    """Of a saved file's exercises: the started ones not passed yet, else every started one, else all (TODO)."""
    untouched = starter.untouched(lab, code_dir)
    started = [ex for ex in candidates if ex.id not in untouched]
    return [ex for ex in started if ex.id not in passed] or started or candidates


def table_rows(output: str) -> list[str]:
    """What `make check` prints for each exercise (its row and the lines under it), or the compile error."""
    lines = output.splitlines()
    rows: list[str] = []
    for line in lines:
        if ROW.match(line) or (rows and DETAIL.match(line)):
            rows.append(line)
        elif rows and not DETAIL.match(line):
            break
    if rows:
        return rows
    start = next((i for i, line in enumerate(lines) if "does not compile" in line), None)
    if start is not None:  # a syntax error: file, line, the offending line
        return [line for line in lines[start + 1 : start + 5] if line.strip() and not line.startswith("Next")]
    return [line for line in lines if line.strip()][-8:]  # pytest could not run: show why


def log_size(name: str) -> int:
    try:
        return (LOG_DIR / f"{name}.log").stat().st_size
    except OSError:
        return 0


def error_since(name: str, offset: int) -> str:
    """The last error a lab process logged after `offset` (where its log stood when it last ran)."""
    try:
        with open(LOG_DIR / f"{name}.log", "rb") as log:
            log.seek(offset)
            text = log.read().decode(errors="replace")
    except OSError:
        return "(no log)"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    error = next((line for line in reversed(lines) if any(word in line for word in ERROR_WORDS)), None)
    if error is None:
        return "it logged no error since it last ran" if lines else "it logged nothing since it last ran"
    return error[:240]


class Watcher:
    def __init__(self, lab: Lab, code_dir: Path):
        self.lab, self.code_dir = lab, code_dir
        self.stop = threading.Event()
        self.child: subprocess.Popen | None = None
        self.passed: set[str] = set()
        self.presses = self.passed_on = 0  # Ctrl+C pressed, and passed on to the running pytest

    def interrupt(self, signum, frame) -> None:
        self.stop.set()
        self.presses += 1
        self._pass_on()

    def _pass_on(self) -> None:
        """Each Ctrl+C goes to pytest once: the first stops the run and its teardown stops the
        processes it started; a second kills them at once (queuelabs/testing/spawn.py)."""
        child = self.child
        while child is not None and child.poll() is None and self.passed_on < self.presses:
            self.passed_on += 1
            child.send_signal(signal.SIGINT)

    def grade(self, exercises: list[Exercise], code: str) -> None:
        ids = ",".join(ex.id for ex in exercises)
        with tempfile.TemporaryDirectory(prefix="queuelabs-watch-") as tmp:
            report = Path(tmp) / "grade.json"
            argv = checkpoint_argv(self.lab, code, report, warm=True) + ["--exercise", ids, *TABLE_ONLY]
            started = time.monotonic()
            # Its own session: a Ctrl+C in the terminal reaches the watcher, which passes it on once.
            self.passed_on = 0
            self.child = subprocess.Popen(
                argv, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
            )
            self._pass_on()  # a Ctrl+C while pytest was being started did not reach it yet
            output, _ = self.child.communicate()
            self.child = None
            if self.stop.is_set():
                return
            print(f"  graded {ids} in {time.monotonic() - started:.1f} s", flush=True)
            for line in table_rows(output):
                print(line, flush=True)
            if report.exists():
                for ex_id, grade in json.loads(report.read_text()).items():
                    (self.passed.add if grade["status"] == "passed" else self.passed.discard)(ex_id)

    def watch_lab_processes(self) -> None:
        """Say when `make labNN`'s own copy of the code stops (and starts again).

        The checkpoints run their own copy, so a PASS says nothing about it: the
        worker can have stopped at the same save (2.7: PRECONDITION_FAILED). A
        reload on save is a stop of a moment: only a process still stopped after
        STOPPED_POLLS checks is reported, with the error it logged since it was last
        seen running (never an older one, fixed long ago).
        """
        names = list(self.lab.process_names.values())
        running_from = {name: log_size(name) for name in names}  # its log's size when last seen running
        lost_for: dict[str, int] = dict.fromkeys(names, 0)
        stopped: set[str] = set()
        while not self.stop.wait(POLL_SECONDS):
            for name in names:
                pid = read_pid(name)
                if not (pid is not None and lost_its_child(pid)):
                    lost_for[name], running_from[name] = 0, log_size(name)
                    if name in stopped:
                        stopped.discard(name)
                        print(f"\n  note: your running {name} is {'running again' if pid else 'no longer running'}")
                    continue
                lost_for[name] += 1
                if lost_for[name] == STOPPED_POLLS:
                    stopped.add(name)
                    print(
                        f"\n  note: your running {name} (make lab{self.lab.id}) stopped: {error_since(name, running_from[name])}"
                    )
                    print(f"        `make status` shows it; fix and save, or `make lab{self.lab.id}` to start it again")

    def run(self, code: str) -> int:
        signal.signal(signal.SIGINT, self.interrupt)
        signal.signal(signal.SIGTERM, self.interrupt)
        threading.Thread(target=self.watch_lab_processes, daemon=True, name="lab-processes").start()
        print(f"Watching {rel(self.code_dir)} for lab {self.lab.id}: save a file to grade its exercise.", flush=True)
        print("Ctrl+C to stop.", flush=True)
        changes = watchfiles.watch(
            self.code_dir, watch_filter=watchfiles.PythonFilter(), stop_event=self.stop, raise_interrupt=False
        )
        for changed in changes:
            paths = {Path(path) for _, path in changed}
            candidates = exercises_in(self.lab, self.code_dir, paths)
            names = ", ".join(sorted(rel(p) for p in paths))
            if not candidates:
                print(f"\n[{time.strftime('%H:%M:%S')}] {names} changed: no exercise lives there", flush=True)
                continue
            exercises = to_grade(self.lab, self.code_dir, candidates, self.passed)
            print(f"\n[{time.strftime('%H:%M:%S')}] {names} changed", flush=True)
            self.grade(exercises, code)
            if self.stop.is_set():
                break
        print("\nStopped watching.", flush=True)
        return 0


def watch(lab: Lab, code: str = "exercise") -> int:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    return Watcher(lab, lab.code_dir(code)).run(code)


if __name__ == "__main__":  # python -m queuelabs.watch path/to/lab [exercise|solution|folder]: the platform's tests
    sys.exit(watch(load_lab(Path(sys.argv[1])), *sys.argv[2:3]))
