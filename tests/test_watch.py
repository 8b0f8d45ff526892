"""`make watch`: a save re-grades the exercise of the saved file; Ctrl+C ends it cleanly.

The watcher runs for real (watchfiles, a pytest run per save) on a copy of the toy lab.
"""

import signal
import subprocess
import sys

import pytest

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
