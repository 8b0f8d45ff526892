"""Exercise 1.4: 202 with a job id, a status endpoint, and jobs that die with the process."""

import httpx
import pytest

from queuelabs.testing.checks import check_response, patience, wait_for

JOB_SECONDS = patience(1.0)  # long enough to still be running when its 202 has been read


def submit(base_url: str) -> str:
    response = check_response(
        httpx.post(f"{base_url}/jobs", params={"seconds": JOB_SECONDS}, timeout=patience(10)), expected=202
    )
    body = response.json()
    assert body.get("job_id"), f"POST /jobs must answer with a job_id: {body}"
    assert body.get("status") == "PENDING", f"a new job is PENDING: {body}"
    return body["job_id"]


def status(base_url: str, job_id: str) -> httpx.Response:
    return httpx.get(f"{base_url}/jobs/{job_id}", timeout=patience(10))


@pytest.mark.exercise("1.4")
@pytest.mark.timeout(patience(60))
def test_job_runs_after_202(app_server):
    job_id = submit(app_server.url)

    first = check_response(status(app_server.url, job_id), expected=200).json()
    assert first["status"] in ("PENDING", "RUNNING"), (
        f"the {JOB_SECONDS:g} s job was already {first['status']} right after POST /jobs answered: answer first, "
        "work afterwards (background_tasks.add_task runs it once the 202 has gone out)"
    )

    done = wait_for(
        lambda: (body := status(app_server.url, job_id).json())["status"] == "DONE" and body,
        timeout=JOB_SECONDS * 10,
        what=f"job {job_id} to be DONE",
    )
    assert done["result"], f"a DONE job carries its result: {done}"

    unknown = status(app_server.url, "0" * 32)
    assert unknown.status_code == 404, f"an id that was never submitted is 404, not {unknown.status_code}"


@pytest.mark.exercise("1.4")
@pytest.mark.timeout(patience(90))
def test_restart_loses_the_job(start_lab_process, stack):
    """In-process background work lives in the server's memory: a restart forgets it."""
    server = start_lab_process("app")
    job_id = submit(server.url)
    wait_for(
        lambda: check_response(status(server.url, job_id), expected=200).json()["status"] == "DONE",
        timeout=JOB_SECONDS * 10,
        what=f"job {job_id} to be DONE",
    )

    server.stop()  # the deploy, the crash, the laptop lid
    restarted = start_lab_process("app")
    after = status(restarted.url, job_id)
    assert after.status_code == 404, (
        f"after a restart, job {job_id} should be unknown (404): the job table lived in the old "
        f"process's memory. Got {after.status_code}: {after.text[:200]}"
    )
