"""What every scenario shares so its report tells the truth: the run time and the result.

Importing this module (each labNN.py does) does two things:

- `--run-time` counts from the start of the load. gevent's loop caches its
  clock, and Locust schedules the end of a headless run with that cached
  clock after seconds of importing on a busy laptop: a 20 s run stopped after
  10 to 18 s. The loop's clock is refreshed when Locust initialises, just
  before it schedules the end.
- `write_key_result()` saves the one line a run is for (lab 04: accepted,
  replayed, lost) next to Locust's CSV files; `make loadtest` puts it at the
  top of the HTML report.
- `final_outcomes()` follows every accepted task to its end after the load
  (labs 04 and 05): how many succeeded, were dead-lettered, or were lost.

(A failure's text comes from `queuelabs.locust_report.failure_text`, so that
Locust groups identical failures into one row.)
"""

from __future__ import annotations

import time

import gevent
import httpx
from locust import events

ENDED = ("SUCCESS", "FAILURE")  # FAILURE: dead-lettered after its retries


@events.init.add_listener
def start_the_clock_now(environment, **_kwargs) -> None:
    gevent.get_hub().loop.update_now()


def write_key_result(environment, line: str) -> None:
    """`<csv prefix>_key_result.txt`, read back by `make loadtest` (a web UI run has no prefix)."""
    prefix = getattr(environment.parsed_options, "csv_prefix", None)
    if prefix:
        with open(f"{prefix}_key_result.txt", "w") as out:
            out.write(line + "\n")


def final_outcomes(host: str, accepted: set[str], settle_seconds: float) -> tuple[int, int, int]:
    """(succeeded, dead-lettered, lost) of the accepted tasks, asking their status each second until
    every one has ended or `settle_seconds` have passed. A task that has not ended by then is lost."""
    states: dict[str, str] = {}
    deadline = time.monotonic() + settle_seconds
    with httpx.Client(base_url=host, timeout=10) as http:
        while True:
            for task_id in accepted - {t for t, s in states.items() if s in ENDED}:
                try:
                    states[task_id] = http.get(f"/api/async/status/{task_id}").json().get("status", "?")
                except (httpx.HTTPError, ValueError):
                    states[task_id] = "?"
            pending = [t for t in accepted if states.get(t) not in ENDED]
            if not pending or time.monotonic() > deadline:
                break
            time.sleep(1)
    succeeded = sum(s == "SUCCESS" for s in states.values())
    failed = sum(s == "FAILURE" for s in states.values())
    return succeeded, failed, len(accepted) - succeeded - failed
