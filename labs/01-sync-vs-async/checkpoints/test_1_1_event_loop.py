"""Exercise 1.1: waiting with `await` keeps the event loop free."""

import pytest

from queuelabs import timing
from queuelabs.testing.checks import patience
from queuelabs.testing.responsive import assert_blocking_is_much_worse, assert_responsive_while_slow

# Each slow report: longer than the probes (about 0.55 s here, longer on a busy machine).
SECONDS = patience(0.8)
N_SLOW = 3


@pytest.mark.exercise("1.1")
@pytest.mark.timeout(patience(60))
def test_awaited_sleep_keeps_ping_fast(app_server):
    fixed = timing.run(app_server.url, f"/report/sleep/fixed?seconds={SECONDS}", n_slow=N_SLOW)
    assert_responsive_while_slow(fixed)
    for call in fixed.slow:  # the report still takes its time, it just does not block
        assert call.elapsed >= SECONDS * 0.9, f"{call.path} answered in {timing.ms(call.elapsed)}"
    print(fixed.summary())

    blocking = timing.run(
        app_server.url, f"/report/sleep/blocking?seconds={SECONDS}", n_slow=N_SLOW, measure_idle=False
    )
    assert_blocking_is_much_worse(blocking, fixed)
    print(blocking.summary() if blocking.idle else f"blocking: loaded p50 {timing.ms(blocking.loaded_p50)}")
