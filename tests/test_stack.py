"""The stack's probes and messages, against real servers and real closed ports."""

import os
import subprocess
import sys
import time

import pytest

from queuelabs import probes
from queuelabs.processes import ManagedProcess, free_port, is_running
from queuelabs.settings import REPO_ROOT


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
