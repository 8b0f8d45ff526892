"""Exercise 1.1: waiting with `await` keeps the event loop free.

Three slow reports go out at once and GET /ping is probed meanwhile (queuelabs/timing.py). The
verdict is an order, not durations: the probes sent while the reports wait must be answered before
the first report is; a loop blocked by time.sleep answers them only after it.
"""

import pytest

from queuelabs import timing
from queuelabs.testing.checks import patience
from queuelabs.testing.responsive import assert_loop_free_while_slow

# Each slow report: long enough for probes to go out and come back, on a busy machine too.
SECONDS = patience(0.8)
N_SLOW = 3


@pytest.mark.exercise("1.1")
@pytest.mark.timeout(patience(60))
def test_awaited_sleep_keeps_ping_fast(app_server):
    race = timing.run(app_server.url, f"/report/sleep/fixed?seconds={SECONDS}", n_slow=N_SLOW)
    assert_loop_free_while_slow(race, advice="wait with asyncio's sleep, awaited, not time.sleep")
    for call in race.slow:  # the report still takes its time, it just does not block
        assert call.elapsed >= SECONDS * 0.9, (
            f"{call.path} answered in {timing.ms(call.elapsed)}: the report must still wait its {SECONDS:g} s "
            "(a coroutine does nothing until it is awaited)"
        )
    print(race.summary())
