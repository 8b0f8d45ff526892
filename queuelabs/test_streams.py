"""`make test`'s two long parts side by side: the platform's tests and `make prove`.

Both hold the machine for a quarter of an hour each, mostly waiting (servers starting, tasks
retried, faults held), and they must never share a server: both freeze, kill and empty the test
stack. So `make prove` runs in a network namespace of its own, with a run folder of its own: its
own RabbitMQ, Redis and MongoDB (and lab 05's cluster) on the same loopback ports, started and
stopped there, pid files, logs and warm registry apart. Nothing it does reaches the servers the
platform's tests use, and the reverse.

The default where the machine allows it (root and iproute2, as on CI): the two take about as long
as the longer of them, not their sum. Without root, or with --serial (`make test SERIAL=1`), they
run one after the other on the same stack. The proof's output is kept in a log and
printed whole once the platform's tests are done, so neither interleaves with the other.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from .settings import LOG_DIR, REPO_ROOT, RUN_DIR

PROVE_RUN_DIR = RUN_DIR / "prove-stream"  # the proof's own run folder: its servers' data, pids, logs


def can_isolate() -> bool:
    """Whether this machine can give the proof a network namespace of its own."""
    return os.geteuid() == 0 and shutil.which("ip") is not None


def _ip(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *argv], capture_output=True, text=True, check=False)


def _cli(*argv: str) -> list[str]:
    return [sys.executable, "-m", "queuelabs.cli", *argv]


def _pytest_tests() -> int:
    return subprocess.run([sys.executable, "-m", "pytest", "tests"], cwd=REPO_ROOT, check=False).returncode


def _prove_here() -> int:
    return subprocess.run(_cli("prove"), cwd=REPO_ROOT, check=False).returncode


class ProveStream:
    """`make prove` in a network namespace of its own, on servers of its own, writing to a log."""

    def __init__(self) -> None:
        self.namespace = f"qlprove{os.getpid()}"
        self.log_path = LOG_DIR / "prove-stream.log"
        # Native servers, always: a Docker engine's published ports live outside the namespace.
        self.env = {**os.environ, "QUEUELABS_RUN_DIR": str(PROVE_RUN_DIR), "QUEUELABS_STACK": "native"}
        self.proc: subprocess.Popen | None = None

    def start(self) -> bool:
        made = _ip("netns", "add", self.namespace)
        if made.returncode != 0:
            print(f"(no network namespace for the proof: {made.stderr.strip()}; it runs after the tests)", flush=True)
            return False
        _ip("netns", "exec", self.namespace, "ip", "link", "set", "lo", "up")
        PROVE_RUN_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # Its own stack, then the proof; its servers stop whatever the proof's outcome.
        script = (
            f"{' '.join(_cli('up'))} && {' '.join(_cli('prove'))}; status=$?; {' '.join(_cli('down'))}; exit $status"
        )
        with self.log_path.open("w") as log:
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", self.namespace, "bash", "-c", script],
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped as one if this run is interrupted
            )
        return True

    def wait(self) -> int:
        assert self.proc is not None
        return self.proc.wait()

    def stop(self) -> None:
        """Stop what still runs in the namespace (by pid: only the proof's processes live there), then delete it."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            subprocess.run(
                ["ip", "netns", "exec", self.namespace, *_cli("down")], cwd=REPO_ROOT, env=self.env, check=False
            )
        for _ in range(2):
            pids = _ip("netns", "pids", self.namespace).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if pids:
                time.sleep(1)
        _ip("netns", "delete", self.namespace)


def run(parallel: bool = False) -> int:
    """The platform's tests, and `make prove` beside them when the machine allows: the worse exit status."""
    print("== 5/6 the platform's own tests (generator, grader, stack, notebooks, load test)", flush=True)
    stream = ProveStream() if parallel and can_isolate() else None
    started = time.monotonic()
    if stream is None or not stream.start():
        tests = _pytest_tests()
        print("== 6/6 every lab: solutions pass, untouched starters and mutants fail", flush=True)
        return max(tests, _prove_here())
    print(
        f"   (meanwhile, 6/6 runs in network namespace {stream.namespace}: its output follows the tests')", flush=True
    )
    try:
        tests = _pytest_tests()
        proof = stream.wait()
    finally:
        stream.stop()
    print(
        "== 6/6 every lab: solutions pass, untouched starters and mutants fail "
        f"(on servers of its own, beside 5/6; both done in {time.monotonic() - started:.0f} s)",
        flush=True,
    )
    sys.stdout.write(Path(stream.log_path).read_text(errors="replace"))
    sys.stdout.flush()
    return max(tests, proof)
