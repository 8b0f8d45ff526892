"""A task that finishes while MongoDB is hung is retried, not marked FAILURE, and its
result is stored once MongoDB answers again (queuelabs/testing/outages.py)."""

from queuelabs.testing import outages


def test_a_result_write_during_a_mongodb_outage_is_retried_then_stored(api, worker, celery_app):
    outages.check_a_result_write_during_a_mongodb_outage_is_retried(api, celery_app, "jobs_taskresult")
