"""Reading Locust's reports back: `_stats.csv` rows and a plain-text table.

A table that reads the same in a terminal, a CI log or on a projector.
"""

from __future__ import annotations

import csv
import html
import re
from dataclasses import dataclass
from pathlib import Path

HTTP_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}


@dataclass(frozen=True)
class Row:
    """One line of Locust's `_stats.csv`."""

    method: str
    name: str
    requests: int
    failures: int
    p50: float
    p95: float
    p99: float
    rps: float

    @property
    def is_total(self) -> bool:
        return self.name == "Aggregated"


def _number(value: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0  # Locust writes "N/A" for percentiles of an endpoint with no data


def read_stats(stats_csv: Path) -> list[Row]:
    rows: list[Row] = []
    with open(stats_csv, newline="") as fh:
        for rec in csv.DictReader(fh):
            rows.append(
                Row(
                    method=rec.get("Type", ""),
                    name=rec.get("Name", ""),
                    requests=int(_number(rec.get("Request Count", "0"))),
                    failures=int(_number(rec.get("Failure Count", "0"))),
                    p50=_number(rec.get("50%", "0")),
                    p95=_number(rec.get("95%", "0")),
                    p99=_number(rec.get("99%", "0")),
                    rps=_number(rec.get("Requests/s", "0")),
                )
            )
    return rows


IDS = re.compile(r"\b[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\b|\b[0-9a-f]{24}\b")
NUMBERS = re.compile(r"\d+(\.\d+)?")


def failure_text(expected: str, response, *, body: bool = True) -> str:
    """A scenario's failure, 'expected 202, got 503: <the answer>', written so Locust can group it.

    Locust's Failures tab has one row per distinct text: ids, numbers and times
    in the answer become placeholders, so 129 refusals that differ only by a
    task id are one row with 129 occurrences, not 129 rows."""
    if not response.status_code:  # no HTTP answer at all: Locust keeps what the client raised in .error
        error = getattr(response, "error", None)
        why = f"{type(error).__name__}: {error}" if error is not None else "no error recorded"
        return f"expected {expected}, got no answer ({NUMBERS.sub('N', IDS.sub('<id>', why[:200]))})"
    text = f"expected {expected}, got {response.status_code}"
    if body and response.text:
        text += ": " + NUMBERS.sub("N", IDS.sub("<id>", response.text[:200]))
    return text


def read_failures(failures_csv: Path, limit: int = 5) -> list[str]:
    if not failures_csv.exists():
        return []
    lines = []
    with open(failures_csv, newline="") as fh:
        for rec in csv.DictReader(fh):
            lines.append(
                f"{rec.get('Occurrences', '?')}x {rec.get('Method', '')} {rec.get('Name', '')}: {rec.get('Error', '')}"
            )
    return lines[:limit]


def read_round_trips(path: Path) -> list[dict[str, str]]:
    """The `_round_trips.csv` a scenario writes (loadtest/round_trips.py): one row per kind of task."""
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def format_round_trips(rows: list[dict[str, str]]) -> str:
    if not rows:
        return "  (no task was followed to its end)"
    lines = [f"  {'task':<10}{'finished':>9}{'failed':>8}{'gave up':>9}{'median':>10}{'p95':>10}"]
    for row in rows:
        lines.append(
            f"  {row['kind']:<10}{row['finished']:>9}{row['failed']:>8}{row['unfinished']:>9}"
            f"{float(row['median_s']):>9.2f}s{float(row['p95_s']):>9.2f}s"
        )
        if row.get("note"):
            lines.append(f"    {row['kind']}: {row['note']}")
    return "\n".join(lines)


# The `_round_trips.csv` columns, as the web UI's "Task round trips" tab titles them.
ROUND_TRIP_COLUMNS = {
    "kind": "Task",
    "finished": "Finished",
    "failed": "Failed",
    "unfinished": "Gave up",
    "median_s": "Median (s)",
    "p95_s": "95%ile (s)",
    "max_s": "Max (s)",
    "note": "What happened to the last one that did not finish",
}
ROUND_TRIPS_SECTION_ID = "queuelabs-round-trips"


def round_trips_html(rows: list[dict]) -> str:
    """The round trips as an HTML section with its own style (the report is one self-contained file)."""
    finished = sum(int(row.get("finished") or 0) for row in rows)
    head = "".join(f"<th>{html.escape(title)}</th>" for title in ROUND_TRIP_COLUMNS.values())
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(row.get(key, '')))}</td>" for key in ROUND_TRIP_COLUMNS) + "</tr>"
        for row in rows
    )
    where = f"#{ROUND_TRIPS_SECTION_ID}"
    return (
        f"<style>{where} {{max-width:1200px;margin:32px auto;padding:0 24px;font-family:Roboto,Helvetica,Arial,sans-serif}}"
        f" {where} table {{border-collapse:collapse}}"
        f" {where} th, {where} td {{padding:6px 12px;border-bottom:1px solid #ddd;text-align:left}}</style>\n"
        f'<section id="{ROUND_TRIPS_SECTION_ID}" data-finished="{finished}">\n'
        "<h2>Task round trips</h2>\n"
        "<p>Submit to result, per kind of task: queue wait plus work, in seconds. They are not HTTP requests, "
        "so they are not in the statistics and charts above (the web UI shows them in its own tab).</p>\n"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>\n"
        + ("" if rows else "<p>No task was followed to its end.</p>\n")
        + "</section>\n"
    )


def with_section(page: str, section_id: str, section: str, *, first: bool = False) -> str:
    """A Locust HTML report with a section of ours added; a page that already has it is unchanged.

    Locust 2.x has no hook for this: `locust.html.get_html_report` renders a
    fixed set of template arguments, and the report page draws only those (the
    web UI's extended tabs are not part of it). So the section goes outside the
    page's React root: after `<body>` (first=True: seen before anything else)
    or before `</body>`."""
    if f'id="{section_id}"' in page:
        return page
    if first and (start := page.find("<body>")) != -1:
        at = start + len("<body>")
        return page[:at] + "\n" + section + page[at:]
    end = page.rfind("</body>")
    return page[:end] + section + page[end:] if end != -1 else page + section


def with_round_trips(page: str, rows: list[dict]) -> str:
    """A Locust HTML report with the round trips (the `_round_trips.csv`) as its last section."""
    return with_section(page, ROUND_TRIPS_SECTION_ID, round_trips_html(rows))


def add_round_trips_to_html(report: Path, rows: list[dict]) -> bool:
    """The same, in the report file a headless run wrote; False when there is no report."""
    if not report.exists():
        return False
    report.write_text(with_round_trips(report.read_text(encoding="utf-8"), rows), encoding="utf-8")
    return True


def ms(value: float) -> str:
    return f"{value:,.0f} ms"


def format_table(rows: list[Row]) -> str:
    """A plain-text table that reads the same in a terminal, a CI log or on a projector."""
    headers = ("endpoint", "requests", "failures", "p50", "p95", "p99", "req/s")
    # Locust's aggregate also counts the custom (non-HTTP) rows a scenario
    # reports, such as lab 02's task round trips; say so rather than mislead.
    total_label = (
        "all (incl. " + ", ".join(sorted(custom)) + ")"
        if (custom := {r.method for r in rows if not r.is_total and r.method not in HTTP_METHODS})
        else "all requests"
    )
    body = [
        (
            total_label if row.is_total else f"{row.method} {row.name}".strip(),
            f"{row.requests:,}",
            f"{row.failures:,}",
            ms(row.p50),
            ms(row.p95),
            ms(row.p99),
            f"{row.rps:.1f}",
        )
        for row in sorted(rows, key=lambda r: (r.is_total, r.name))
    ]
    widths = [max(len(h), *(len(line[i]) for line in body)) if body else len(h) for i, h in enumerate(headers)]

    def fmt(cells) -> str:
        first = cells[0].ljust(widths[0])
        rest = [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest])

    lines = [fmt(headers), fmt(["-" * w for w in widths])]
    for cells in body:
        if cells[0] == total_label:
            lines.append(fmt(["-" * w for w in widths]))
        lines.append(fmt(cells))
    return "\n".join(lines)


def format_comparison(runs: dict[str, list[Row]]) -> str:
    """The same endpoints under the same load, one line per run: `runs` maps a label to its rows.

    The last line of each endpoint is the ratio of the later runs to the first
    (requests/s and p95), measured in one run of the command."""
    labels = list(runs)
    names = sorted({row.name for rows in runs.values() for row in rows}, key=lambda n: (n == "Aggregated", n))
    headers = ("endpoint", "run", "req/s", "p50", "p95", "p99", "failures")
    body: list[tuple[str, ...]] = []
    for name in names:
        found = {label: next((r for r in rows if r.name == name), None) for label, rows in runs.items()}
        method = next((r.method for r in found.values() if r is not None), "")
        shown = "all requests" if name == "Aggregated" else f"{method} {name}".strip()
        for label, row in found.items():
            if row is None:
                body.append((shown, label, "no data", "", "", "", ""))
            else:
                cells = (f"{row.rps:.1f}", ms(row.p50), ms(row.p95), ms(row.p99), f"{row.failures:,}")
                body.append((shown, label, *cells))
            shown = ""
        first = found[labels[0]]
        for label in labels[1:]:
            row = found[label]
            if first and row and first.rps > 0 and first.p95 > 0:
                body.append(
                    (
                        "",
                        f"{label} / {labels[0]}",
                        f"{row.rps / first.rps:.2f}x",
                        "",
                        f"{row.p95 / first.p95:.2f}x",
                        "",
                        "",
                    )
                )
        body.append(("",) * len(headers))
    widths = [max(len(h), *(len(line[i]) for line in body)) for i, h in enumerate(headers)]

    def fmt(cells) -> str:
        return "  ".join(
            [cells[0].ljust(widths[0]), cells[1].ljust(widths[1])]
            + [c.rjust(w) for c, w in zip(cells[2:], widths[2:], strict=True)]
        ).rstrip()

    return "\n".join([fmt(headers), fmt(["-" * w for w in widths]), *(fmt(cells) for cells in body[:-1])])
