"""`make labNN` says in one line when a process dies or its port is taken; `make status`
shows every process (running with its code, or exited with its last log line) and exits 0.

The runner starts the toy lab's processes for real (tests/toylab/solution/toy/service.py),
on free ports, with its pid files and logs in a folder of the test's own.
"""

import os
import socket

import psutil
import pytest
from click.testing import CliRunner

from queuelabs import process_status, processes, runner
from queuelabs.cli import main
from queuelabs.errors import LabError
from queuelabs.labs import load_lab
from queuelabs.processes import free_port
from queuelabs.waiting import wait_until


@pytest.fixture
def toy_lab(toy, run_dir):
    """The toy lab with free ports; every process it starts is stopped by pid at the end."""
    manifest = toy.dir / "lab.toml"
    text = manifest.read_text()
    for port in ("8097", "8098", "8099"):
        text = text.replace(f"port = {port}", f"port = {free_port()}")
    manifest.write_text(text)
    lab = load_lab(toy.dir)
    yield lab
    runner.stop_lab(lab)


def status() -> tuple[int, dict[str, str]]:
    """`make status`: its exit code, and its row of each lab process."""
    result = CliRunner().invoke(main, ["status"])
    rows = {line.split()[0]: line for line in result.output.splitlines() if line.startswith("  lab99-")}
    return result.exit_code, rows


def test_status_shows_a_crash_after_start_and_what_still_runs(toy_lab, capsys):
    runner.start_process(toy_lab, "serve", "solution")
    runner.start_process(toy_lab, "crash-on-cue", "solution")  # the reference (lab99-ref-...): no reloader
    assert "lab99-ref-crash-on-cue ready" in capsys.readouterr().out.replace("  ", " ")
    serving = processes.read_pid("lab99-ref-serve")

    (toy_lab.solution_dir / "crash-now").touch()  # it was ready; now it dies
    wait_until(lambda: processes.read_pid("lab99-ref-crash-on-cue") is None, timeout=15, what="the process to exit")

    exit_code, rows = status()
    assert exit_code == 0
    assert "EXITED" in rows["lab99-ref-crash-on-cue"]
    assert "RuntimeError: the toy service lost its broker" in rows["lab99-ref-crash-on-cue"]
    assert "running" in rows["lab99-ref-serve"] and f"pid {serving}" in rows["lab99-ref-serve"]
    assert "code solution/" in rows["lab99-ref-serve"]


def test_status_after_a_kill_9_shows_the_process_exited(toy_lab):
    runner.start_process(toy_lab, "serve", "exercise")
    _, rows = status()
    assert "running" in rows["lab99-serve"] and "code exercise/" in rows["lab99-serve"]

    psutil.Process(processes.read_pid("lab99-serve")).kill()
    wait_until(lambda: processes.read_pid("lab99-serve") is None, timeout=15, what="the process to die")
    exit_code, rows = status()
    assert exit_code == 0
    assert "EXITED" in rows["lab99-serve"] and "toy service: serve starting" in rows["lab99-serve"]


@pytest.mark.parametrize("process", ["crash-at-once", "crash-soon"])
def test_make_lab_reports_a_crash_at_start_in_one_line_with_its_reason(toy_lab, process):
    with pytest.raises(LabError) as crash:
        runner.start_process(toy_lab, process, "exercise")
    message = str(crash.value)
    assert "\n" not in message
    assert f"lab99-{process} exited during start-up" in message
    assert "RuntimeError: the toy service lost its database" in message


def test_make_lab_reports_a_taken_port_in_one_line_and_starts_nothing(toy_lab):
    port = toy_lab.processes["serve"].port
    with socket.socket() as other_program:
        other_program.bind(("127.0.0.1", port))
        other_program.listen()
        with pytest.raises(LabError) as taken:
            runner.start_lab(toy_lab, "exercise")
    message = str(taken.value)
    assert "\n" not in message
    assert f"lab99-serve needs port {port}, held by " in message and f"(pid {os.getpid()})" in message, message
    # All or none: the lab's other processes were not started either.
    assert [name for name in toy_lab.process_names.values() if processes.read_pid(name)] == []


def test_status_shows_your_code_crashed_under_its_reloader(toy_lab):
    """From exercise/ a process runs under a reloader (watchfiles here), which outlives your
    code when it dies: `running` would be a lie."""
    runner.start_process(toy_lab, "crash-on-cue", "exercise")
    reloader = processes.read_pid("lab99-crash-on-cue")
    assert "running" in process_status.status_line("lab99-crash-on-cue")

    (toy_lab.exercise_dir / "crash-now").touch()
    wait_until(lambda: processes.lost_its_child(reloader), timeout=15, what="the toy service to die")
    line = process_status.status_line("lab99-crash-on-cue")
    assert "CRASHED" in line and "RuntimeError: the toy service lost its broker" in line
    assert "fix your code and save" in line
    assert processes.read_pid("lab99-crash-on-cue") == reloader, "the reloader waits for a save"


def test_status_shows_a_server_that_runs_but_answers_500(toy_lab):
    """Django under gunicorn --reload keeps running after a bad save, and answers every request
    with a 500: `running` would be a lie there too."""
    runner.start_process(toy_lab, "serve", "exercise")
    assert "running" in status()[1]["lab99-serve"]

    (toy_lab.exercise_dir / "answer-500").touch()
    line = process_status.status_line("lab99-serve")
    assert "BROKEN" in line and "answers HTTP 500" in line, line
    assert "RuntimeError: the toy page is broken" in line

    (toy_lab.exercise_dir / "answer-500").unlink()
    assert "running" in process_status.status_line("lab99-serve")
