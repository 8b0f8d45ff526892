"""Exercise 1.2: awaiting MongoDB through AsyncMongoClient keeps the event loop free."""

import pytest

from queuelabs import timing
from queuelabs.testing.checks import patience
from queuelabs.testing.responsive import assert_blocking_is_much_worse, assert_responsive_while_slow

# How long mongod takes to answer each query: longer than the probes, on a busy machine too.
SECONDS = patience(0.8)
N_SLOW = 3


@pytest.mark.exercise("1.2")
@pytest.mark.timeout(patience(60))
def test_async_driver_keeps_ping_fast(app_server):
    fixed = timing.run(app_server.url, f"/report/db/fixed?seconds={SECONDS}", n_slow=N_SLOW)
    assert_responsive_while_slow(fixed)
    for call in fixed.slow:
        assert call.elapsed >= SECONDS * 0.9, f"{call.path} answered in {timing.ms(call.elapsed)}"
    print(fixed.summary())

    blocking = timing.run(app_server.url, f"/report/db/blocking?seconds={SECONDS}", n_slow=N_SLOW, measure_idle=False)
    assert_blocking_is_much_worse(blocking, fixed)
    print(f"blocking: loaded p50 {timing.ms(blocking.loaded_p50)}")
