"""Task round trips (submit -> result), kept apart from the API's own requests.

A round trip is not an HTTP request: it is queue wait plus seconds of work.
Fired as a Locust request it would land in the aggregate that the Charts tab
draws, and the chart would show the queue instead of the API. So the
scenarios record round trips here, and Locust's own extension hooks show
them apart:

- a "Task round trips" tab in the web UI (Locust's `extended_tabs`,
  `extended_tables` and `extended_stats` template hooks),
- `<csv prefix>_round_trips.csv` next to Locust's CSV files in headless runs
  (`make loadtest` prints it as a second table, and adds it to the HTML
  report, which has no hook of its own; the web UI's report download gets
  the same section),
- a summary printed when Locust stops.

Each round trip ends one of three ways: finished (SUCCESS), failed (the task
ended in FAILURE), or unfinished (still not done when the scenario gave up,
with a note saying why: a worker down, or queued behind other work).
"""

from __future__ import annotations

import csv
import json
import statistics
import threading
from dataclasses import dataclass, field

from locust import events

from queuelabs.locust_report import with_round_trips

TAB_KEY = "round-trips"
COLUMNS = [
    ("kind", "Task"),
    ("finished", "Finished"),
    ("failed", "Failed"),
    ("unfinished", "Gave up"),
    ("median_s", "Median (s)"),
    ("p95_s", "95%ile (s)"),
    ("max_s", "Max (s)"),
    ("note", "What happened to the last one that did not finish"),
]


@dataclass
class _Kind:
    seconds: list[float] = field(default_factory=list)  # finished ones only
    failed: int = 0
    unfinished: int = 0
    note: str = ""


class RoundTrips:
    """Round trips per kind (lab 02: per priority), thread- and greenlet-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kinds: dict[str, _Kind] = {}
        self.alarms = 0  # outcomes that should fail a headless run (a FAILURE, no worker)

    def finished(self, kind: str, seconds: float) -> None:
        with self._lock:
            self._kinds.setdefault(kind, _Kind()).seconds.append(seconds)

    def failed(self, kind: str, note: str, *, alarm: bool = True) -> None:
        with self._lock:
            entry = self._kinds.setdefault(kind, _Kind())
            entry.failed += 1
            entry.note = note
            self.alarms += alarm

    def unfinished(self, kind: str, note: str, *, alarm: bool) -> None:
        with self._lock:
            entry = self._kinds.setdefault(kind, _Kind())
            entry.unfinished += 1
            entry.note = note
            self.alarms += alarm

    def reset(self) -> None:
        with self._lock:
            self._kinds.clear()
            self.alarms = 0

    def rows(self) -> list[dict]:
        with self._lock:
            kinds = {name: (sorted(k.seconds), k.failed, k.unfinished, k.note) for name, k in self._kinds.items()}
        rows = []
        for name, (times, failed, unfinished, note) in sorted(kinds.items()):
            p95 = times[min(len(times) - 1, int(0.95 * len(times)))] if times else 0.0
            rows.append(
                {
                    "kind": name,
                    "safe_name": name,
                    "finished": len(times),
                    "failed": failed,
                    "unfinished": unfinished,
                    "median_s": round(statistics.median(times), 2) if times else 0.0,
                    "p95_s": round(p95, 2),
                    "max_s": round(times[-1], 2) if times else 0.0,
                    "note": note,
                }
            )
        return rows

    def summary(self) -> str:
        lines = ["Task round trips (submit -> result; not part of the request statistics):"]
        for row in self.rows():
            lines.append(
                f"  {row['kind']:<10} finished {row['finished']:>5}  failed {row['failed']:>4}  "
                f"gave up {row['unfinished']:>4}  median {row['median_s']:>6.2f} s  p95 {row['p95_s']:>6.2f} s"
                + (f"  | {row['note']}" if row["note"] else "")
            )
        return "\n".join(lines)

    def write_csv(self, path: str) -> None:
        with open(path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=[key for key, _ in COLUMNS], extrasaction="ignore")
            writer.writeheader()
            writer.writerows(self.rows())

    def install(self, title: str = "Task round trips") -> None:
        """Hook into Locust: the web UI tab, Reset Stats, and the end-of-run CSV and summary."""

        @events.init.add_listener
        def add_the_tab(environment, **_) -> None:
            web_ui = environment.web_ui
            if web_ui is None:
                return
            # Kept across update_template_args(), so the main page shows the tab.
            web_ui.template_args["extended_tabs"] = [{"title": title, "key": TAB_KEY}]
            web_ui.template_args["extended_tables"] = [
                {"key": TAB_KEY, "structure": [{"key": key, "title": text} for key, text in COLUMNS]}
            ]

            @web_ui.app.after_request
            def add_round_trips(response):
                from flask import request

                if request.path == "/stats/report" and response.mimetype == "text/html":
                    # The report's Download button: the same section the headless report gets.
                    response.set_data(with_round_trips(response.get_data(as_text=True), self.rows()))
                    return response
                if request.path != "/stats/requests" or not response.is_json:
                    return response
                extended = [{"key": TAB_KEY, "data": self.rows()}]
                response.set_data(json.dumps({**response.json, "extended_stats": extended}))
                return response

        @events.reset_stats.add_listener
        def forget(**_) -> None:
            self.reset()

        @events.quitting.add_listener
        def report(environment, **_) -> None:
            print(self.summary(), flush=True)
            prefix = getattr(environment.parsed_options, "csv_prefix", None)
            if prefix:
                self.write_csv(f"{prefix}_round_trips.csv")
            if self.alarms:
                environment.process_exit_code = 1
