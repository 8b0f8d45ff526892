"""Exercise 1.2: awaiting MongoDB through AsyncMongoClient keeps the event loop free.

Three slow reads go out at once (mongod takes SECONDS to answer each) and GET /ping is probed
meanwhile (queuelabs/timing.py). The verdict is an order, not durations: the probes sent while the
reads wait must be answered before the first read is; a loop blocked in the synchronous driver
answers them only after it.
"""

import pytest

from queuelabs import timing
from queuelabs.testing.checks import patience
from queuelabs.testing.responsive import assert_loop_free_while_slow

# How long mongod takes to answer each query: long enough for probes to go out and come back.
SECONDS = patience(0.8)
N_SLOW = 3


@pytest.mark.exercise("1.2")
@pytest.mark.timeout(patience(60))
def test_async_driver_keeps_ping_fast(app_server):
    race = timing.run(app_server.url, f"/report/db/fixed?seconds={SECONDS}", n_slow=N_SLOW)
    assert_loop_free_while_slow(
        race,
        advice="await find_one on the AsyncMongoClient's collection (async_reports), not the MongoClient's",
        when_500="the server log says why; find_one without `await` gives a coroutine, not the document",
    )
    for call in race.slow:
        assert call.elapsed >= SECONDS * 0.9, f"{call.path} answered in {timing.ms(call.elapsed)}"
    print(race.summary())
