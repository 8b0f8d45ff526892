"""The work behind a report, as plain functions: no FastAPI in here.

Each function stands in for something a real report does:
- `simulated_io` waits, like a call to a slow partner API (it uses no CPU);
- `SLOW_QUERY` makes MongoDB itself take time before it answers;
- `crunch` keeps one CPU core busy in pure Python (it holds the GIL).
"""

from __future__ import annotations

import time

REPORTS_COLLECTION = "lab01_reports"
REPORT_ID = "quarterly"


def slow_query(seconds: float) -> dict:
    """A find() filter that makes mongod spend `seconds` before answering.

    `$where` runs JavaScript on the server for every document it scans; the
    collection holds exactly one document, so the server sleeps once. It
    stands in for a heavy query (a big scan or aggregation). Only for this
    lab: `$where` is slow, and deprecated since MongoDB 8.0.
    """
    ms = int(seconds * 1000)
    return {"_id": REPORT_ID, "$where": f"sleep({ms}); return true;"}


def simulated_io(seconds: float) -> None:
    """Block the calling thread for `seconds`, like a synchronous network call."""
    time.sleep(seconds)


def crunch(n: int) -> int:
    """Pure-Python arithmetic: n loop turns that keep one core (and the GIL) busy."""
    total = 0
    for i in range(n):
        total += i * i % 7
    return total
