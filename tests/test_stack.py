"""The stack's probes and messages, against real servers and real closed ports."""

import os
import subprocess
import sys
import time

import psutil
import pytest

from queuelabs import probes
from queuelabs.processes import ManagedProcess, free_port, is_running, lost_its_child
from queuelabs.settings import REPO_ROOT
from queuelabs.waiting import wait_until


@pytest.mark.parametrize(
    "name, url",
    [
        ("rabbitmq", "amqp://guest:guest@127.0.0.1:{port}//"),
        ("redis", "redis://127.0.0.1:{port}/0"),
        ("mongodb", "mongodb://127.0.0.1:{port}/?directConnection=true"),
    ],
)
def test_a_closed_port_gives_a_short_reason_quickly(name, url):
    port = free_port()
    started = time.monotonic()
    reason = probes.probe(name, url.format(port=port), timeout=1.0)
    elapsed = time.monotonic() - started
    assert reason == "connection refused"
    assert elapsed < 5, "probes must be bounded"
    line = probes.down_message(name, reason, url.format(port=port))
    assert (
        line
        == f"{probes.SERVICES[name].title} is not answering on 127.0.0.1:{port} (connection refused): start the stack with: make up"
    )


@pytest.mark.parametrize("name", ["rabbitmq", "redis", "mongodb"])
def test_the_running_stack_answers(name):
    assert probes.probe(name) is None, probes.down_message(name, probes.probe(name))


def test_check_with_redis_down_prints_one_line_not_a_traceback():
    env = dict(os.environ, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    done = subprocess.run(
        [sys.executable, "-m", "queuelabs.cli", "check", "02"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=60,
    )
    assert done.returncode == 3
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stdout
    assert lines[0].startswith("Redis is not answering on 127.0.0.1:")
    assert lines[0].endswith("start the stack with: make up")
    assert "Traceback" not in done.stdout + done.stderr


def test_stopped_process_is_not_running_even_as_a_zombie(tmp_path):
    proc = ManagedProcess("sleeper", ["sleep", "30"], cwd=tmp_path, env=dict(os.environ), log_path=tmp_path / "s.log")
    proc.start()
    assert is_running(proc.pid)
    proc.stop(timeout=5)
    assert not is_running(proc.pid)


@pytest.mark.parametrize("code, lost", [("import time; time.sleep(30)", False), ("raise SystemExit(1)", True)])
def test_a_reloader_whose_code_exited_is_seen_as_stopped(tmp_path, code, lost):
    # `make labNN` runs the learner's worker under watchfiles: when the code fails to
    # start, watchfiles stays up waiting for a saved file, and `make status` must say so.
    command = f"{sys.executable} -c {code!r}"
    argv = [str(REPO_ROOT / ".venv/bin/watchfiles"), "--filter", "python", command, str(tmp_path)]
    proc = ManagedProcess("reloader", argv, cwd=tmp_path, env=dict(os.environ), log_path=tmp_path / "r.log")
    proc.start()
    try:  # watchfiles starts its child, which then either keeps running or exits
        wait_until(lambda: psutil.Process(proc.pid).children(), timeout=10, what="watchfiles starts the code")
        if lost:
            wait_until(lambda: lost_its_child(proc.pid), timeout=10, what="the reloader seen as stopped")
        else:
            assert not lost_its_child(proc.pid)
    finally:
        proc.stop(timeout=5)


def test_a_system_rabbitmq_without_management_is_named_with_the_command_to_run(monkeypatch):
    """Ubuntu's apt starts rabbitmq-server as a service, without the management plugin."""
    from queuelabs import native

    monkeypatch.setattr(native, "read_pid", lambda name: None)  # not started by the project
    monkeypatch.setattr(native, "port_open", lambda port: port != native.RABBITMQ_MANAGEMENT_PORT)
    problem = native.foreign_rabbitmq_problem()
    assert problem and "\n" not in problem
    assert "sudo rabbitmq-plugins enable rabbitmq_management" in problem
    monkeypatch.setattr(native, "port_open", lambda port: True)  # management answers: nothing to say
    assert native.foreign_rabbitmq_problem() is None


def test_make_up_resumes_a_service_left_frozen_by_an_experiment():
    """The lessons freeze a server (SIGSTOP) to show a hang; `make up` afterwards must not call it broken."""
    from queuelabs import faults, stack
    from queuelabs.processes import read_pid

    assert read_pid("redis"), "this test needs the project's own Redis: `make up` without a Docker engine"
    faults.freeze(faults.service_pid("redis"))
    try:
        assert probes.probe("redis", timeout=0.5) is not None, "a frozen Redis should not answer"
        stack.up(["redis"])
        assert probes.probe("redis", timeout=1.0) is None
    finally:
        faults.thaw(faults.service_pid("redis"))
