"""Lab 01's Ctrl+C demonstration ends cleanly and soon: no traceback, no 30 s wait.

The lesson runs the app in a terminal, submits a 30 s background job and presses
Ctrl+C. A terminal sends SIGINT to the whole process group (uvicorn and its pool
processes), so this test does the same to the real server, by its group id.
"""

import os
import signal
import time

import httpx

from queuelabs.waiting import wait_until

JOB_SECONDS = 30


def test_ctrl_c_with_a_running_job_exits_soon_without_a_traceback(run_solution):
    app = run_solution("01", "app")["app"]
    reply = httpx.post(f"{app.url}/jobs", params={"seconds": JOB_SECONDS}, timeout=10)
    assert reply.status_code == 202, reply.text
    job = reply.json()["job_id"]
    wait_until(lambda: httpx.get(f"{app.url}/jobs/{job}", timeout=5).json()["status"] == "RUNNING", timeout=10)

    started = time.monotonic()
    os.killpg(app.pid, signal.SIGINT)  # what Ctrl+C in its terminal does
    app.proc.wait(timeout=JOB_SECONDS)
    took = time.monotonic() - started

    log = app.log_path.read_text()
    assert took < JOB_SECONDS / 2, f"Ctrl+C took {took:.1f} s: the server waited for the job"
    assert "Traceback" not in log and "KeyboardInterrupt" not in log, log[-3000:]
    assert "Finished server process" in log  # a shutdown, not a crash
