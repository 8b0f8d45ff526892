"""Load tests with Locust: `make loadtest LAB=NN` (headless) and `make locust LAB=NN` (web UI).

Each lab's scenario is `loadtest/labNN.py`. A headless run calls Locust's own
CLI, writes its CSV and HTML reports to `loadtest/reports/<lab>-<timestamp>/`,
then prints one short table per endpoint (requests, failures, p50/p95/p99)
read back from Locust's `_stats.csv`. The exit code is non-zero when any
request failed.

Lab 01 is a comparison, not a single run: the same scenario runs twice, with
`LAB01_VARIANT=blocking` and then `fixed`, and the summary compares the
latency of the cheap request in both (DESIGN.md: timing claims are ratios
measured in one run, never absolute milliseconds).
"""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from .settings import HOST, LOCUST_PORT, REPO_ROOT

LOADTEST_DIR = REPO_ROOT / "loadtest"
REPORTS_DIR = LOADTEST_DIR / "reports"

# Lab ports from DESIGN.md, used when a lab has no lab.toml yet.
DEFAULT_PORTS = {"01": 8001, "02": 8002, "03": 8003, "04": 8004}

# Lab 01: the request whose latency shows whether the event loop was free.
LAB01_VARIANTS = ("blocking", "fixed")
LAB01_PROBE_REQUEST = "cheap"

HTTP_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}

# Extra seconds allowed after Locust's own `-t` before the run is cut short.
GRACE_SECONDS = 60


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


# --- finding things ------------------------------------------------------------------


def _lab_id(lab_id: str) -> str:
    text = str(lab_id).strip()
    return text.zfill(2) if text.isdigit() else text


def _lab_port(lab_id: str) -> int:
    try:
        from .labs import find_lab

        return find_lab(lab_id).port
    except Exception:  # a lab without lab.toml yet still has its port in DESIGN.md
        return DEFAULT_PORTS.get(lab_id, 8000 + int(lab_id) if lab_id.isdigit() else 8000)


def default_host(lab_id: str) -> str:
    """The lab's own API on loopback, e.g. http://127.0.0.1:8002 for lab 02."""
    return f"http://{HOST}:{_lab_port(_lab_id(lab_id))}"


def locustfile(lab_id: str) -> Path:
    return LOADTEST_DIR / f"lab{_lab_id(lab_id)}.py"


def _locust_argv() -> list[str]:
    """The locust of this virtual environment (the interpreter running us)."""
    return [sys.executable, "-m", "locust"]


def _answers(host: str, timeout: float = 2.0) -> bool:
    """True when something accepts a TCP connection at the host's address."""
    parts = urlsplit(host)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


def _not_running_message(lab_id: str, host: str) -> str:
    return (
        f"Nothing answers at {host}: start lab {lab_id} first with `make lab{lab_id}` "
        f"(or `docker compose --profile lab{lab_id} up -d`), then run this again."
    )


def _health_warning(host: str) -> str | None:
    """For the labs with the HTTP contract: say so when GET /health is not 200."""
    try:
        import httpx

        response = httpx.get(f"{host}/health", timeout=3.0)
    except Exception as exc:  # noqa: BLE001 - a warning, never a reason to stop
        return f"warning: GET {host}/health did not answer ({type(exc).__name__}); tasks may not finish"
    if response.status_code == 200:
        return None
    detail = response.text.strip().replace("\n", " ")[:200]
    return f"warning: GET {host}/health answered {response.status_code}: {detail}. Tasks may not finish."


# --- reading Locust's reports --------------------------------------------------------


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


def _ms(value: float) -> str:
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
            _ms(row.p50),
            _ms(row.p95),
            _ms(row.p99),
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


# --- running Locust ------------------------------------------------------------------


def _run_locust(
    scenario: Path,
    *,
    host: str,
    users: int,
    spawn_rate: int,
    seconds: int,
    prefix: Path,
    env: dict[str, str],
    label: str,
) -> int:
    """One headless run; Locust's own output goes to `<prefix>.log`."""
    argv = [
        *_locust_argv(),
        "-f",
        str(scenario),
        "--headless",
        "--host",
        host,
        "-u",
        str(users),
        "-r",
        str(spawn_rate),
        "-t",
        f"{seconds}s",
        "--csv",
        str(prefix),
        "--html",
        str(prefix.with_suffix(".html")),
        "--only-summary",
        "--exit-code-on-error",
        "1",
        "--loglevel",
        "WARNING",
    ]
    log_path = prefix.with_suffix(".log")
    interactive = sys.stdout.isatty()
    print(f"[loadtest] {label}: {users} users (+{spawn_rate}/s) for {seconds} s against {host}", flush=True)
    started = time.monotonic()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(argv, cwd=LOADTEST_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            while True:
                try:
                    rc = proc.wait(timeout=1.0)
                    break
                except subprocess.TimeoutExpired:
                    elapsed = time.monotonic() - started
                    if elapsed > seconds + GRACE_SECONDS:
                        proc.terminate()
                        try:
                            proc.wait(timeout=10)
                        except subprocess.TimeoutExpired:
                            proc.kill()
                            proc.wait()
                        print(f"\n[loadtest] Locust did not stop after {elapsed:.0f} s; stopped it (log: {log_path})")
                        return 2
                    if interactive:
                        print(f"\r[loadtest]   {min(elapsed, seconds):4.0f} / {seconds} s", end="", flush=True)
        except KeyboardInterrupt:
            proc.terminate()
            proc.wait()
            raise
    if interactive:
        print("\r" + " " * 40 + "\r", end="")
    if rc not in (0, 1):  # 1 means "some requests failed"; anything else is Locust itself failing
        print(f"[loadtest] Locust exited with {rc}; the end of its log ({log_path}):")
        for line in log_path.read_text(errors="replace").splitlines()[-15:]:
            print(f"    {line}")
    return rc


def _report_dir(lab_id: str) -> Path:
    path = REPORTS_DIR / f"lab{lab_id}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _summarise(prefix: Path, rc: int) -> tuple[int, list[Row]]:
    """Print the table for one run; returns (failed requests, rows)."""
    stats = Path(f"{prefix}_stats.csv")
    if not stats.exists():
        print(
            f"[loadtest] no statistics were written ({_rel(stats)} is missing); see {_rel(prefix.with_suffix('.log'))}"
        )
        return -1, []
    rows = read_stats(stats)
    print(format_table(rows))
    total = next((r for r in rows if r.is_total), None)
    failed = total.failures if total else sum(r.failures for r in rows)
    if failed:
        print(f"\n{failed} failed request(s); the most frequent:")
        for line in read_failures(Path(f"{prefix}_failures.csv")):
            print(f"  {line}")
    elif total is not None and total.requests == 0:
        print("\nNo request was made: is the scenario right for this lab?")
        return -1, rows
    return failed, rows


def run_loadtest(lab_id: str, *, users: int, spawn_rate: int, seconds: int, host: str | None) -> int:
    """`make loadtest LAB=NN`: a bounded headless run, reports on disk, a summary here.

    Returns 0 when every request succeeded; 1 when any failed or nothing ran;
    2 when the scenario is missing or Locust itself failed; 3 when nothing
    answers at the target.
    """
    lab_id = _lab_id(lab_id)
    scenario = locustfile(lab_id)
    if not scenario.exists():
        print(f"[loadtest] lab {lab_id} has no load test scenario ({_rel(scenario)} does not exist)")
        return 2
    host = (host or default_host(lab_id)).rstrip("/")
    if not _answers(host):
        print(_not_running_message(lab_id, host))
        return 3
    if lab_id != "01":
        warning = _health_warning(host)
        if warning:
            print(warning)

    users, spawn_rate, seconds = max(1, users), max(1, spawn_rate), max(1, seconds)
    out = _report_dir(lab_id)
    base_env = dict(os.environ, QUEUELABS_API_URL=host, PYTHONUNBUFFERED="1")

    if lab_id == "01":
        return _run_lab01(
            scenario, host=host, users=users, spawn_rate=spawn_rate, seconds=seconds, out=out, env=base_env
        )

    prefix = out / f"lab{lab_id}"
    rc = _run_locust(
        scenario,
        host=host,
        users=users,
        spawn_rate=spawn_rate,
        seconds=seconds,
        prefix=prefix,
        env=base_env,
        label=f"lab {lab_id}",
    )
    print()
    failed, _ = _summarise(prefix, rc)
    print(f"\nReports: {_rel(prefix.with_suffix('.html'))} (open in a browser) and {_rel(out)}/*.csv")
    if failed == 0 and rc == 0:
        print("Zero failed requests.")
        return 0
    return 2 if rc not in (0, 1) else 1


def _run_lab01(
    scenario: Path, *, host: str, users: int, spawn_rate: int, seconds: int, out: Path, env: dict[str, str]
) -> int:
    """The same scenario against the blocking and the fixed endpoints; compare the cheap request."""
    probes: dict[str, Row | None] = {}
    worst = 0
    for variant in LAB01_VARIANTS:
        prefix = out / f"lab01-{variant}"
        rc = _run_locust(
            scenario,
            host=host,
            users=users,
            spawn_rate=spawn_rate,
            seconds=seconds,
            prefix=prefix,
            env=dict(env, LAB01_VARIANT=variant),
            label=f"lab 01, {variant}",
        )
        print()
        failed, rows = _summarise(prefix, rc)
        print()
        probes[variant] = next((r for r in rows if r.name == LAB01_PROBE_REQUEST and not r.is_total), None)
        if rc not in (0, 1):
            worst = max(worst, 2)
        elif failed != 0:
            worst = max(worst, 1)

    print(f'The "{LAB01_PROBE_REQUEST}" request while heavy requests run:')
    print(f"  {'variant':<10}{'requests':>10}{'p50':>10}{'p95':>10}{'p99':>10}")
    for variant in LAB01_VARIANTS:
        row = probes[variant]
        if row is None:
            print(f"  {variant:<10}{'no data':>10}")
            continue
        print(f"  {variant:<10}{row.requests:>10,}{_ms(row.p50):>10}{_ms(row.p95):>10}{_ms(row.p99):>10}")
    blocking, fixed = probes["blocking"], probes["fixed"]
    if blocking and fixed and fixed.p95 > 0:
        print(f"  blocking p95 / fixed p95 = {blocking.p95 / fixed.p95:.1f}x")
    else:
        print("  blocking p95 / fixed p95: not enough data to compare")
    print(f"\nReports: {_rel(out)}/lab01-blocking.html and lab01-fixed.html (and the CSV files)")
    return worst


def open_web_ui(lab_id: str, host: str | None) -> int:
    """`make locust LAB=NN`: Locust's web UI on 127.0.0.1:8089, in the foreground until Ctrl+C."""
    lab_id = _lab_id(lab_id)
    scenario = locustfile(lab_id)
    if not scenario.exists():
        print(f"[locust] lab {lab_id} has no load test scenario ({_rel(scenario)} does not exist)")
        return 2
    host = (host or default_host(lab_id)).rstrip("/")
    if _answers(f"http://{HOST}:{LOCUST_PORT}", timeout=0.5):
        print(f"[locust] port {LOCUST_PORT} is taken: is a Locust web UI already open at http://{HOST}:{LOCUST_PORT} ?")
        return 2
    if not _answers(host):
        print(_not_running_message(lab_id, host))
        print("[locust] opening the web UI anyway; start the lab before you press Start.")
    argv = [
        *_locust_argv(),
        "-f",
        str(scenario),
        "--host",
        host,
        "--web-host",
        HOST,
        "--web-port",
        str(LOCUST_PORT),
    ]
    print(f"[locust] web UI: http://{HOST}:{LOCUST_PORT}  (target {host}; Ctrl+C to stop)")
    env = dict(os.environ, QUEUELABS_API_URL=host, PYTHONUNBUFFERED="1")
    if lab_id == "01":
        env["LAB01_VARIANT"] = os.environ.get("LAB01_VARIANT", LAB01_VARIANTS[0])
        print(f"[locust] lab 01 variant: {env['LAB01_VARIANT']} (set LAB01_VARIANT=blocking or fixed)")
    try:
        return subprocess.run(argv, cwd=LOADTEST_DIR, env=env).returncode
    except KeyboardInterrupt:
        return 0
