"""The key result of a load test, written on top of its HTML report.

Each lab's run is for one figure: lab 01's blocking/fixed ratio, lab 02's API
against its tasks, the 02 vs 03 comparison, lab 04's accepted/replayed/lost.
`make loadtest` prints it and puts it in the report itself (a section above
Locust's own page), with the load and the seconds Locust really ran, so the
HTML file alone tells the story on a projector or in a mail.
"""

from __future__ import annotations

import html
from pathlib import Path

from .locust_report import Row, ms, read_round_trips, with_section

KEY_RESULT_SECTION_ID = "queuelabs-key-result"


def key_result_html(lines: list[str], *, table: str = "", load: str, run_time: int, measured: float) -> str:
    """What the run is for, on top of the report: its result, the table behind it, and the load.

    `run_time` is Locust's --run-time; `measured` the seconds its statistics span (first
    user to last answer), so a reader sees that the run lasted what was announced."""
    where = f"#{KEY_RESULT_SECTION_ID}"
    result = "".join(f"<p><strong>{html.escape(line)}</strong></p>" for line in lines)
    shown = f"<pre>{html.escape(table)}</pre>" if table else ""
    return (
        f"<style>{where} {{max-width:1200px;margin:24px auto;padding:12px 24px;border:2px solid #2e7d32;"
        f"border-radius:8px;font-family:Roboto,Helvetica,Arial,sans-serif;font-size:18px}}"
        f" {where} pre {{font-size:15px;overflow-x:auto}}</style>\n"
        f'<section id="{KEY_RESULT_SECTION_ID}" data-run-time="{run_time}" data-measured="{measured:.1f}">\n'
        f"<h2>Key result</h2>\n{result}{shown}\n"
        f"<p>{html.escape(load)}: Locust's --run-time {run_time} s; its statistics span {measured:.1f} s, "
        "from the first user to the last answer.</p>\n</section>\n"
    )


def seconds_measured(rows: list[Row]) -> float:
    """The seconds Locust's statistics span: its requests/s is requests over that span."""
    total = next((r for r in rows if r.is_total), None)
    return total.requests / total.rps if total and total.rps > 0 else 0.0


def headline(runs: dict[str, list[Row]]) -> list[str]:
    """'lab 03 / lab 02, all requests: p95 1.8x, requests/s 0.97x', for each later run."""
    totals = {label: next((r for r in rows if r.is_total), None) for label, rows in runs.items()}
    (first_label, first), *later = totals.items()
    lines = []
    for label, total in later:
        if first and total and first.p95 > 0 and first.rps > 0:
            lines.append(
                f"{label} / {first_label}, all requests: p95 {total.p95 / first.p95:.2f}x "
                f"({ms(total.p95)} / {ms(first.p95)}), requests/s {total.rps / first.rps:.2f}x"
            )
    return lines


def variant_comparison(request: str, rows: dict[str, Row | None]) -> tuple[str, str]:
    """(a table of one request in each variant, the p95 ratio of the first to the last)."""
    lines = [
        f'The "{request}" request in each variant:',
        f"  {'variant':<10}{'requests':>10}{'p50':>10}{'p95':>10}{'p99':>10}",
    ]
    for variant, row in rows.items():
        if row is None:
            lines.append(f"  {variant:<10}{'no data':>10}")
            continue
        lines.append(f"  {variant:<10}{row.requests:>10,}{ms(row.p50):>10}{ms(row.p95):>10}{ms(row.p99):>10}")
    first, *_, last = rows.values()
    names = list(rows)
    if first and last and last.p95 > 0:
        ratio = f"{names[0]} p95 / {names[-1]} p95 = {first.p95 / last.p95:.1f}x ({ms(first.p95)} / {ms(last.p95)})"
    else:
        ratio = f"{names[0]} p95 / {names[-1]} p95: not enough data to compare"
    return "\n".join(lines), ratio


def lines_of_the_run(prefix: Path, rows: list[Row]) -> list[str]:
    """The key result of one run: what the scenario wrote (lab 04), else the API against its tasks."""
    written = Path(f"{prefix}_key_result.txt")
    if written.exists():
        return [line for line in written.read_text().splitlines() if line.strip()]
    round_trips = Path(f"{prefix}_round_trips.csv")
    total = next((r for r in rows if r.is_total), None)
    if not round_trips.exists() or total is None:
        return []
    finished = [row for row in read_round_trips(round_trips) if int(row["finished"])]
    if not finished:
        return [f"The API answered {total.requests:,} requests (p95 {ms(total.p95)}); no task finished"]
    slowest = max(float(row["p95_s"]) for row in finished)
    return [
        f"The API answered {total.requests:,} requests with a p95 of {ms(total.p95)} while each task took up to "
        f"{slowest:.1f} s (p95) from submit to result: the queue and the worker wait, the API does not"
    ]


def add_key_result(prefix: Path, rows: list[Row], lines: list[str], *, table: str, load: str, seconds: int) -> None:
    section = key_result_html(lines, table=table, load=load, run_time=seconds, measured=seconds_measured(rows))
    report = prefix.with_suffix(".html")
    if report.exists():
        page = report.read_text(encoding="utf-8")
        report.write_text(with_section(page, KEY_RESULT_SECTION_ID, section, first=True), encoding="utf-8")
