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

(A failure's text comes from `queuelabs.locust_report.failure_text`, so that
Locust groups identical failures into one row.)
"""

from __future__ import annotations

import gevent
from locust import events


@events.init.add_listener
def start_the_clock_now(environment, **_kwargs) -> None:
    gevent.get_hub().loop.update_now()


def write_key_result(environment, line: str) -> None:
    """`<csv prefix>_key_result.txt`, read back by `make loadtest` (a web UI run has no prefix)."""
    prefix = getattr(environment.parsed_options, "csv_prefix", None)
    if prefix:
        with open(f"{prefix}_key_result.txt", "w") as out:
            out.write(line + "\n")
