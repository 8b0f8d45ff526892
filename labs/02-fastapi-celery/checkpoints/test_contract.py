"""The HTTP contract, graded against lab 02's API with a real worker behind it.

The checks themselves live in queuelabs/testing/contract.py, so lab 03 (Django) runs the same ones.
"""

import pytest

from queuelabs.testing import contract


@pytest.mark.exercise("2.3")
def test_submit_answers_202_at_once_with_location(api, worker, celery_app):
    # Follow the task in the result backend, so 2.3 passes before 2.4 is written.
    def state(task_id):
        return celery_app.backend.get_task_meta(task_id, cache=False)["status"]

    contract.check_submit_answers_202_at_once(api, task_state=state)


@pytest.mark.exercise("2.3")
def test_submit_rejects_bad_input_with_422(api, worker):
    contract.check_submit_rejects_bad_input(api, bad_input=(422,))


@pytest.mark.exercise("2.4")
def test_status_of_an_unknown_id_is_404(api, worker):
    contract.check_unknown_task_is_404(api)


@pytest.mark.exercise("2.4")
def test_status_shows_progress_then_the_result(api, worker):
    contract.check_status_reports_progress_then_success(api)


@pytest.mark.exercise("2.6")
def test_welcome_email_is_queued_and_sent(api, worker):
    contract.check_welcome_email(api, bad_input=(422,))


@pytest.mark.exercise("2.7")
def test_high_priority_overtakes_queued_low_priority_work(api, lab_worker, empty_queues):
    lab_worker.stop()  # nothing consumes: the tasks wait in the queue
    empty_queues()
    contract.check_priorities_reorder_queued_work(api, start_worker=lambda: lab_worker.start(concurrency=1))
