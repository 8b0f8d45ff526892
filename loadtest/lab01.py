"""Lab 01 load test: does the API stay responsive while slow reports run?

Two kinds of users share the server:
- SlowReportUser keeps asking for the slow report (0.5 s of waiting each);
  there are always LAB01_SLOW_USERS of them (default 3);
- CheapUser, all the other users, call GET /ping, named "cheap" in the
  statistics.

LOADTEST_VARIANT chooses which slow report the slow users hit:
  blocking  /report/sleep/blocking   time.sleep inside async def: freezes the loop
  fixed     /report/sleep/fixed      await asyncio.sleep: the loop stays free

Compare the "cheap" percentiles of the two runs (`make loadtest LAB=01`
does both). By hand, against `make lab01 CODE=solution`:

  LOADTEST_VARIANT=blocking locust -f loadtest/lab01.py --headless -u 10 -r 10 -t 15s
  LOADTEST_VARIANT=fixed    locust -f loadtest/lab01.py --headless -u 10 -r 10 -t 15s

Other settings: QUEUELABS_API_URL (default http://127.0.0.1:8001, or
--host), LAB01_SLOW_SECONDS (default 0.5), LAB01_SLOW_USERS (default 3).

Before a run starts, one GET /ping waits until the server answers: a
blocking run leaves requests queued in the server after Locust stops, and
the next run must not measure that backlog (nor count it in its run time).
"""

from __future__ import annotations

import os
import urllib.request

from locust import HttpUser, between, events, task
from run_report import start_the_clock_now

VARIANTS = {
    "blocking": "/report/sleep/blocking",
    "fixed": "/report/sleep/fixed",
}

VARIANT = os.environ.get("LOADTEST_VARIANT", "blocking").strip().lower()
if VARIANT not in VARIANTS:
    raise SystemExit(f"LOADTEST_VARIANT must be one of {', '.join(VARIANTS)}, not {VARIANT!r}")
SLOW_SECONDS = float(os.environ.get("LAB01_SLOW_SECONDS", "0.5"))
SLOW_USERS = int(os.environ.get("LAB01_SLOW_USERS", "3"))
HOST = os.environ.get("QUEUELABS_API_URL", "http://127.0.0.1:8001")
# No request may hang a run: a frozen server answers late, never never.
REQUEST_TIMEOUT = 30


class SlowReportUser(HttpUser):
    """Asks for the slow report again and again."""

    host = HOST
    fixed_count = SLOW_USERS  # spawned first; every other user is a CheapUser
    wait_time = between(0.0, 0.2)

    @task
    def slow_report(self) -> None:
        self.client.get(
            VARIANTS[VARIANT],
            params={"seconds": SLOW_SECONDS},
            name=f"slow ({VARIANT})",
            timeout=REQUEST_TIMEOUT,
        )


class CheapUser(HttpUser):
    """Measures responsiveness: /ping costs nothing, so its latency is pure waiting."""

    host = HOST
    weight = 1
    wait_time = between(0.05, 0.15)

    @task
    def cheap(self) -> None:
        self.client.get("/ping", name="cheap", timeout=REQUEST_TIMEOUT)


@events.init.add_listener
def wait_for_an_idle_server(environment, **_kwargs) -> None:
    """Let the server finish whatever an earlier (blocking) run left queued, before the run time counts."""
    base = (environment.host or HOST).rstrip("/")
    try:
        urllib.request.urlopen(f"{base}/ping", timeout=REQUEST_TIMEOUT).close()
    except OSError as exc:
        raise SystemExit(f"lab 01's app does not answer on {base} ({exc}): start it with make lab01") from None
    start_the_clock_now(environment)  # the wait above took seconds of gevent's cached clock
