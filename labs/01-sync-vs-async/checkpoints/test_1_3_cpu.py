"""Exercise 1.3: CPU-bound work in a process pool keeps the event loop free."""

import json

import httpx
import pytest

from queuelabs import timing
from queuelabs.testing.checks import patience
from queuelabs.testing.responsive import assert_blocking_is_much_worse, assert_responsive_while_slow

TARGET_SECONDS = 1.0  # how long each computation should take on this machine; the probes take about 0.55 s
N_SLOW = 2


def loop_turns_for(base_url: str, seconds: float) -> int:
    """Calibrate: how many loop turns take `seconds` here (machines differ)."""
    sample = 3_000_000
    timings = []
    for _ in range(2):  # the faster of two: a busy moment makes a run look slow
        response = httpx.get(f"{base_url}/report/cpu/blocking", params={"n": sample}, timeout=30)
        response.raise_for_status()
        timings.append(json.loads(response.text)["elapsed"])
    elapsed = min(timings)
    return max(sample, min(400_000_000, int(sample * seconds / elapsed)))


@pytest.mark.exercise("1.3")
@pytest.mark.timeout(patience(60))
def test_process_pool_keeps_ping_fast(app_server):
    n = loop_turns_for(app_server.url, patience(TARGET_SECONDS))  # longer than the probes, busy or not
    fixed = timing.run(app_server.url, f"/report/cpu/fixed?n={n}", n_slow=N_SLOW)
    assert_responsive_while_slow(fixed)
    print(f"n={n}: {fixed.summary()}")

    blocking = timing.run(app_server.url, f"/report/cpu/blocking?n={n}", n_slow=N_SLOW, measure_idle=False)
    assert_blocking_is_much_worse(blocking, fixed)
    print(f"blocking: loaded p50 {timing.ms(blocking.loaded_p50)}")
