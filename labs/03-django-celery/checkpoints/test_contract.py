"""Lab 02's HTTP contract, graded against lab 03's Django API: the same checks, unchanged.

The checks live in queuelabs/testing/contract.py; DRF answers bad input with 400.
(The submit, status and email checks run in test_3_3, test_3_4 and test_3_6.)
The priorities check follows each task through GET /api/async/status, so it
grades 3.4: 3.3 passes before the status view is written.
"""

import pytest

from queuelabs.testing import contract


@pytest.mark.exercise("3.4")
def test_high_priority_overtakes_queued_low_priority_work(api, lab_worker, empty_queues):
    lab_worker.stop()  # nothing consumes: the tasks wait in the queue
    empty_queues()
    contract.check_priorities_reorder_queued_work(api, start_worker=lambda: lab_worker.start(concurrency=1))
