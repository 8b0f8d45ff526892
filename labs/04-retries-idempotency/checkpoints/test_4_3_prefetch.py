"""Exercise 4.3: each pool process holds at most one message it has not started.

With late acknowledgement a crash hands back every message the worker held:
with worker_prefetch_multiplier = 4, that is a pile of tasks that sat waiting
in a dead worker instead of in RabbitMQ, where a healthy worker could have
taken them. The setting is read from the graded app as the worker reads it.
"""

import pytest


@pytest.mark.exercise("4.3")
def test_a_worker_holds_one_waiting_message_per_process(celery_app):
    prefetch = celery_app.conf.worker_prefetch_multiplier
    assert prefetch == 1, (
        f"worker_prefetch_multiplier is {prefetch}: each pool process reserves {prefetch} messages, so a crash "
        "hands back a pile and a busy worker holds work another could run. Set worker_prefetch_multiplier = 1"
    )
