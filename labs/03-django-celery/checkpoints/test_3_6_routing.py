"""Exercise 3.6: emails go to their own queue, which only the emails worker reads.

With the main worker running (-Q default,reports,digests) and no emails worker,
a welcome email must WAIT in the `emails` queue (PENDING); once an emails worker
starts (-Q emails), it is sent.
"""

import time

import pytest

from queuelabs.testing import contract
from queuelabs.testing.checks import patience, wait_for


def ready_messages(celery_app, queue: str) -> int:
    """The queue's ready messages, asked of RabbitMQ now (the management UI lags by seconds)."""
    with celery_app.connection_for_write() as conn:
        return conn.default_channel.queue_declare(queue, passive=True).message_count


@pytest.mark.exercise("3.6")
def test_an_email_waits_for_the_emails_worker(celery_app, worker, emails_worker, empty_queues):
    emails_worker.stop()
    empty_queues()
    result = celery_app.send_task("emails.send_welcome", kwargs={"email": "ada@example.com", "name": "Ada"})
    time.sleep(patience(1.5))  # plenty for the running main worker to take it, if it could
    state = result.state
    assert state == "PENDING", (
        f"the email task is {state} with no emails worker running: the main worker took it. "
        "Route emails.* to the emails queue (CELERY_TASK_ROUTES)"
    )
    waiting = ready_messages(celery_app, "emails")
    assert waiting == 1, f"the emails queue holds {waiting} ready message(s), expected the 1 email"
    emails_worker.start(concurrency=1)
    final = wait_for(
        lambda: result.state in ("SUCCESS", "FAILURE") and result.state,
        timeout=15,
        interval=0.1,
        what="the emails worker to send the waiting email",
    )
    assert final == "SUCCESS", f"the email task ended {final}: {result.info}"


@pytest.mark.exercise("3.6")
def test_welcome_email_contract(api, worker, emails_worker):
    emails_worker.start(concurrency=1)
    contract.check_welcome_email(api, bad_input=(400,))
