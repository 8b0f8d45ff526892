"""`make watch`: a save re-grades the exercise of the saved file; Ctrl+C ends it cleanly.

The watcher runs for real (watchfiles, a pytest run per save) on a copy of the toy
lab, and on a copy of lab 02 for Ctrl+C in the middle of a grading run (real
servers and workers, counted by pid).
"""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from queuelabs.labs import find_lab, load_lab
from queuelabs.probes import services_down
from queuelabs.processes import VENV_BIN
from queuelabs.settings import REPO_ROOT
from queuelabs.waiting import wait_until


@pytest.fixture
def watcher(toy, tmp_path):
    log = tmp_path / "watch.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "queuelabs.watch", str(toy.dir)], cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT
        )
    yield proc, log
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_a_save_regrades_its_exercise_and_ctrl_c_ends_cleanly(toy, watcher):
    proc, log = watcher
    maths = toy.exercise_dir / "toy/maths.py"
    solved = maths.read_text().replace('raise NotImplementedError("Exercise 99.1', 'return a + b  # ("')

    def saved_and_seen():  # the watcher may still be starting: save again until it reports the change
        maths.write_text(solved)
        return "toy/maths.py changed" in log.read_text()

    wait_until(saved_and_seen, timeout=30, interval=1, what="the watcher to see the save")
    wait_until(lambda: "PASS  99.1" in log.read_text(), timeout=60, what="99.1 to be re-graded")
    output = log.read_text()
    assert "99.2" not in output.split("changed", 1)[1], "99.2 is untouched: only 99.1 is graded"

    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=15) == 0
    output = log.read_text()
    assert "Stopped watching." in output
    assert "Traceback" not in output and "KeyboardInterrupt" not in output


# --- Ctrl+C in the middle of a grading run -----------------------------------------
#
# A grading run starts real servers and workers (the `api` and `worker` fixtures),
# each in a session of its own. Stopping `make watch` or `make check` while one runs
# once left the run's lab API running, to be killed by pid: a second Ctrl+C aborted
# pytest's teardown half way, and `make check` SIGKILLed pytest in the middle of it.


class Family:
    """Every process seen under `root` (pid, start time), recorded each time it is looked at."""

    def __init__(self, root: int):
        self.root = root
        self.seen: dict[tuple[int, float], str] = {}

    def look(self) -> list[str]:
        try:
            processes = psutil.Process(self.root).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        for proc in processes:
            with contextlib.suppress(psutil.Error):
                self.seen[(proc.pid, proc.create_time())] = " ".join(proc.cmdline())
        return list(self.seen.values())

    def survivors(self, code_dir: Path, since: float) -> dict[int, str]:
        """What is still running: seen under root, or running in code_dir and started since."""
        alive = {}
        for proc in psutil.process_iter(["pid", "create_time", "cmdline", "cwd", "status"]):
            info = proc.info
            if info["status"] == psutil.STATUS_ZOMBIE or info["pid"] == os.getpid():
                continue
            ours = (info["pid"], info["create_time"]) in self.seen
            in_code = info["cwd"] and Path(info["cwd"]).is_relative_to(code_dir) and info["create_time"] >= since
            if ours or in_code:
                alive[info["pid"]] = " ".join(info["cmdline"] or [])
        return alive


def running(family: Family, program: str) -> bool:
    return any(f"bin/{program} " in cmd for cmd in family.look())


def ended(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def kill_by_pid(pids) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


@pytest.fixture
def lab02_copy(tmp_path):
    """Lab 02 with its reference, copied: a save in it starts a real grading run."""
    source = find_lab("02").dir
    assert not (down := services_down(find_lab("02").needs)), down
    copy = tmp_path / source.name
    copy.mkdir()
    for name in ("lab.toml", "conftest.py"):
        shutil.copy(source / name, copy / name)
    for folder in ("checkpoints", "solution"):
        shutil.copytree(source / folder, copy / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return load_lab(copy)


@pytest.mark.parametrize("presses", ["once", "again and again"])
def test_ctrl_c_while_make_watch_grades_leaves_no_process_behind(lab02_copy, tmp_path, presses):
    since = time.time() - 1
    log = tmp_path / "watch.log"
    with log.open("w") as out:
        watcher = subprocess.Popen(
            [sys.executable, "-m", "queuelabs.watch", str(lab02_copy.dir), "solution"],
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    family = Family(watcher.pid)
    email = lab02_copy.solution_dir / "app/api/routes/email.py"  # exercise 2.6: its checkpoint needs api + worker
    try:

        def saved_and_seen():
            email.write_text(email.read_text() + "\n")
            return "email.py changed" in log.read_text()

        wait_until(saved_and_seen, timeout=30, interval=1, what="the watcher to see the save")
        # In the middle of the run: the `api` fixture's server is up, the `worker` fixture is starting its worker.
        wait_until(lambda: running(family, "celery"), timeout=60, what="the grading run to start a worker")
        assert running(family, "uvicorn"), f"the run's API is not up: {family.look()}"
        grading = next(p for p in psutil.Process(watcher.pid).children() if "pytest" in p.cmdline())

        watcher.send_signal(signal.SIGINT)
        if presses == "again and again":  # the next presses land in the teardown that stops the processes

            def pressed_until_it_ends() -> bool:
                family.look()
                if not ended(grading):
                    watcher.send_signal(signal.SIGINT)
                return ended(grading)

            wait_until(pressed_until_it_ends, timeout=60, interval=0.05, what="the grading run to stop")
        assert watcher.wait(timeout=60) == 0, log.read_text()
        survivors = family.survivors(lab02_copy.dir, since)
        assert not survivors, f"left running after Ctrl+C {presses}: {survivors}"
        output = log.read_text()
        assert "Stopped watching." in output and "Traceback" not in output, output
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
        kill_by_pid(family.survivors(lab02_copy.dir, since))


@pytest.mark.parametrize("presses", ["once", "again and again"])
def test_ctrl_c_during_make_check_leaves_no_process_behind(presses):
    """A terminal's Ctrl+C reaches `queuelabs check` and its pytest (one process group)."""
    lab = find_lab("02")
    assert not (down := services_down(lab.needs)), down
    since = time.time() - 1
    check = subprocess.Popen(
        [str(VENV_BIN / "queuelabs"), "check", "02", "--code", "solution", "--exercise", "2.6"],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a process group of its own, as in a terminal
    )
    family = Family(check.pid)
    try:
        wait_until(lambda: running(family, "celery"), timeout=60, what="the grading run to start a worker")
        assert running(family, "uvicorn"), f"the run's API is not up: {family.look()}"
        os.killpg(check.pid, signal.SIGINT)  # what Ctrl+C in its terminal does

        def ended() -> bool:
            family.look()
            if check.poll() is None and presses == "again and again":
                os.killpg(check.pid, signal.SIGINT)
            return check.poll() is not None

        wait_until(ended, timeout=60, interval=0.05, what="make check to stop")
        # 130: stopped by Ctrl+C (pressed again while it exits, Python's own SIGINT exit: -2)
        assert check.returncode in ((130,) if presses == "once" else (130, -signal.SIGINT))
        survivors = family.survivors(lab.solution_dir, since)
        assert not survivors, f"left running after Ctrl+C: {survivors}"
    finally:
        if check.poll() is None:
            os.killpg(check.pid, signal.SIGKILL)
            check.wait()
        kill_by_pid(family.survivors(lab.solution_dir, since))
