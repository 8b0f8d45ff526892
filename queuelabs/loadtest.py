"""Load tests with Locust: `make loadtest LAB=NN` (headless) and `make locust LAB=NN` (web UI).

Each lab names its scenario in lab.toml (`[loadtest] scenario`). A headless run
calls Locust's own CLI, writes its CSV and HTML reports to
`loadtest/reports/<lab>-<timestamp>/`, then prints one short table per
endpoint (requests, failures, p50/p95/p99) read back from `_stats.csv`. A
scenario that follows tasks writes `_round_trips.csv`; its rows are printed
apart and added to the HTML report as a section of their own. The exit code
is non-zero when any request failed.

A lab may declare `variants` (lab 01: blocking and fixed): the scenario then
runs once per variant (LOADTEST_VARIANT=<name>) and the summary compares one
request (`compare`) across them. Several labs at once (`make loadtest
LAB=02,03`) put the same load on each lab's API at the same time, after a
warm-up, and compare every endpoint.
Timing claims are ratios measured in one run, never absolute milliseconds.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from .checkpoint_runs import rel
from .errors import LabError
from .key_result import add_key_result, headline, lines_of_the_run, variant_comparison
from .labs import Lab
from .locust_report import (
    Row,
    add_round_trips_to_html,
    format_comparison,
    format_round_trips,
    format_table,
    read_failures,
    read_round_trips,
    read_stats,
)
from .processes import http_status, port_open
from .settings import HOST, LOCUST_PORT, REPO_ROOT

LOADTEST_DIR = REPO_ROOT / "loadtest"
REPORTS_DIR = LOADTEST_DIR / "reports"
# Extra seconds allowed after Locust's own `-t` before the run is cut short.
GRACE_SECONDS = 60
# The web UI's form opens filled in (Locust takes -u/-r/-t as its defaults): a
# room sees a load at once, and a forgotten run stops by itself.
WEB_RUN_TIME = "10m"


def scenario_of(lab: Lab) -> Path:
    if lab.manifest.loadtest is None:
        raise LabError(f"lab {lab.id} has no load test ([loadtest] in its lab.toml)")
    path = REPO_ROOT / lab.manifest.loadtest.scenario
    if not path.exists():
        raise LabError(f"lab {lab.id}'s load test scenario {rel(path)} does not exist")
    return path


def _target(lab: Lab, host: str | None) -> str:
    host = (host or lab.url("exercise")).rstrip("/")
    if http_status(f"{host}/", timeout=2.0) is None:
        raise LabError(
            f"nothing answers at {host}: start lab {lab.id} first with `make lab{lab.id}`, then run this again"
        )
    return host


def _health_warning(host: str) -> str | None:
    """Say so when the API has a /health that answers other than 200."""
    status = http_status(f"{host}/health", timeout=3.0)
    if status in (None, 200, 404):
        return None
    return f"warning: GET {host}/health answered {status}: tasks may not finish (see `make status`)"


def run_locust(scenario: Path, *, host: str, users: int, rate: int, seconds: int, prefix: Path, env, label: str) -> int:
    """One headless run; Locust's own output goes to `<prefix>.log`."""
    argv = [
        *(sys.executable, "-m", "locust", "-f", str(scenario), "--headless", "--host", host),
        *("-u", str(users), "-r", str(rate), "-t", f"{seconds}s", "--csv", str(prefix)),
        *("--html", str(prefix.with_suffix(".html")), "--only-summary", "--exit-code-on-error", "1"),
        *("--loglevel", "WARNING"),
    ]
    log_path = prefix.with_suffix(".log")
    print(f"[loadtest] {label}: {users} users (+{rate}/s) for {seconds} s against {host}", flush=True)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(argv, cwd=LOADTEST_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            rc = proc.wait(timeout=seconds + GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            print(
                f"[loadtest] Locust did not stop after {seconds + GRACE_SECONDS} s; stopped it (log: {rel(log_path)})"
            )
            return 2
        except KeyboardInterrupt:
            proc.terminate()
            proc.wait()
            raise
    round_trips = Path(f"{prefix}_round_trips.csv")
    if round_trips.exists():  # Locust's HTML report has no place for them: add them (every caller gets it)
        add_round_trips_to_html(prefix.with_suffix(".html"), read_round_trips(round_trips))
    if rc not in (0, 1):  # 1 means "some requests failed"; anything else is Locust itself failing
        print(f"[loadtest] Locust exited with {rc}; the end of its log ({rel(log_path)}):")
        for line in log_path.read_text(errors="replace").splitlines()[-15:]:
            print(f"    {line}")
    return rc


def _summarise(prefix: Path) -> tuple[int, list[Row]]:
    """Print the table for one run; returns (failed requests, rows); -1 when nothing ran."""
    stats = Path(f"{prefix}_stats.csv")
    if not stats.exists():
        print(f"[loadtest] no statistics were written ({rel(stats)} is missing); see {rel(prefix.with_suffix('.log'))}")
        return -1, []
    rows = read_stats(stats)
    print(format_table(rows))
    round_trips = Path(f"{prefix}_round_trips.csv")
    if round_trips.exists():  # written by scenarios that follow tasks (loadtest/round_trips.py)
        print("\nTask round trips, submit -> result (apart from the requests above):")
        print(format_round_trips(read_round_trips(round_trips)))
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


def run_loadtest(
    lab: Lab, *, users: int | None = None, spawn_rate: int | None = None, seconds: int | None = None, host: str | None
) -> int:
    """`make loadtest LAB=NN`: bounded headless runs, reports on disk, a summary here.

    Returns 0 when every request succeeded; 1 when any failed or nothing ran;
    2 when Locust itself failed."""
    config = lab.manifest.loadtest
    scenario = scenario_of(lab)
    host = _target(lab, host)
    if warning := _health_warning(host):
        print(warning)
    users, spawn_rate, seconds = users or config.users, spawn_rate or config.spawn_rate, seconds or config.seconds
    out = REPORTS_DIR / f"lab{lab.id}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, QUEUELABS_API_URL=host, PYTHONUNBUFFERED="1")
    compared: dict[str, Row | None] = {}
    runs: list[tuple[Path, list[Row]]] = []
    worst = 0
    for variant in config.variants or (None,):
        prefix = out / (f"lab{lab.id}-{variant}" if variant else f"lab{lab.id}")
        label = f"lab {lab.id}, {variant}" if variant else f"lab {lab.id}"
        run_env = dict(env, LOADTEST_VARIANT=variant) if variant else env
        rc = run_locust(
            scenario, host=host, users=users, rate=spawn_rate, seconds=seconds, prefix=prefix, env=run_env, label=label
        )
        print()
        failed, rows = _summarise(prefix)
        runs.append((prefix, rows))
        print()
        if variant:
            compared[variant] = next((r for r in rows if r.name == config.compare and not r.is_total), None)
        # Locust exits 1 on failed requests, and when a scenario sets process_exit_code (lab 04: lost tasks).
        worst = max(worst, 2 if rc not in (0, 1) else max(rc, 1 if failed else 0))
    lines, table = [], ""
    if config.variants:
        table, ratio = variant_comparison(config.compare, compared)
        print(f"{table}\n  {ratio}\n")
        lines = [f'The "{config.compare}" request, {ratio}']
    load = f"{users} users (+{spawn_rate}/s) for {seconds} s"
    for prefix, rows in runs:
        if not lines:  # one run: its own result, printed here and put on top of its report
            for line in lines_of_the_run(prefix, rows):
                print(f"Key result: {line}")
        add_key_result(prefix, rows, lines or lines_of_the_run(prefix, rows), table=table, load=load, seconds=seconds)
    print(f"Reports: {rel(out)}/*.html (open in a browser) and the CSV files beside them")
    if worst == 0:
        print("Zero failed requests.")
    return worst


# `make loadtest LAB=02,03`: seconds of load on both APIs before the measured run, not reported.
# A cold API (first connections, imports, a gunicorn thread's first publish) swung the p95 ratio
# of a 15 s run from 1.2x to 5.0x; after a warm-up both meet the measured load warm.
WARM_UP_SECONDS = 10


def run_comparison(
    labs: list[Lab],
    *,
    users: int | None = None,
    spawn_rate: int | None = None,
    seconds: int | None = None,
    hosts: dict[str, str] | None = None,
    answering=None,
    warm_up: int = WARM_UP_SECONDS,
) -> int:
    """`make loadtest LAB=02,03`: the same scenario and load on each lab's API at the same time,
    after a warm-up, then one table.

    At the same time, on purpose: both APIs (and their workers) meet the same machine under the
    same load, so whatever else runs on the laptop weighs on both alike; each lab runs in its own
    corner (vhost, databases), so neither's worker takes the other's tasks. `answering(lab)` is a
    context manager that yields the lab's base URL (the CLI starts the reference when nothing
    answers); `hosts` maps a lab id to a base URL instead. Returns what run_loadtest returns, for
    the worst of the runs."""
    if variants := [lab.id for lab in labs if lab.manifest.loadtest and lab.manifest.loadtest.variants]:
        raise LabError(f"lab {variants[0]} compares its own variants: run `make loadtest LAB={variants[0]}` alone")
    scenario_of(labs[0])  # a clear error when the first lab has no load test
    config = labs[0].manifest.loadtest
    users, spawn_rate, seconds = users or config.users, spawn_rate or config.spawn_rate, seconds or config.seconds
    out = REPORTS_DIR / f"compare-{'-'.join(f'lab{lab.id}' for lab in labs)}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as running:
        hosts_of = {}
        for lab in labs:
            given = (hosts or {}).get(lab.id)
            base = running.enter_context(answering(lab) if answering and not given else contextlib.nullcontext(given))
            hosts_of[lab.id] = _target(lab, base)
            if warning := _health_warning(hosts_of[lab.id]):
                print(warning)

        def both(phase: str, length: int) -> dict[str, int]:
            def one(lab: Lab) -> int:
                host = hosts_of[lab.id]
                env = dict(os.environ, QUEUELABS_API_URL=host, PYTHONUNBUFFERED="1")
                prefix = out / (f"lab{lab.id}" if phase == "measured" else f"warm-up-lab{lab.id}")
                label = f"lab {lab.id}" + ("" if phase == "measured" else " (warm-up, not reported)")
                return run_locust(
                    scenario_of(lab),
                    host=host,
                    users=users,
                    rate=spawn_rate,
                    seconds=length,
                    prefix=prefix,
                    env=env,
                    label=label,
                )

            with ThreadPoolExecutor(len(labs)) as pool:
                return dict(zip((lab.id for lab in labs), pool.map(one, labs), strict=True))

        if warm_up:
            both("warm-up", warm_up)
        codes = both("measured", seconds)
    runs: dict[str, list[Row]] = {}
    worst = 0
    for lab in labs:
        print()
        failed, runs[f"lab {lab.id}"] = _summarise(out / f"lab{lab.id}")
        rc = codes[lab.id]
        worst = max(worst, 2 if rc not in (0, 1) else (1 if failed != 0 else 0))
    same_load = (
        f"The same load on each API at the same time ({users} users each, +{spawn_rate}/s, {seconds} s, "
        f"after {warm_up} s of warm-up, not reported)"
    )
    table = format_comparison(runs)
    print(f"\n{same_load}:\n\n{table}")
    lines = [same_load, *headline(runs)]
    for lab in labs:
        rows = runs[f"lab {lab.id}"]
        load = f"lab {lab.id}: {users} users (+{spawn_rate}/s) for {seconds} s"
        add_key_result(out / f"lab{lab.id}", rows, lines, table=table, load=load, seconds=seconds)
    print(f"\nReports: {rel(out)}/lab*.html and the CSV files beside them")
    if worst == 0:
        print("Zero failed requests.")
    return worst


def open_web_ui(lab: Lab, host: str | None) -> int:
    """`make locust LAB=NN`: Locust's web UI on 127.0.0.1:8089, in the foreground until Ctrl+C."""
    scenario = scenario_of(lab)
    if port_open(LOCUST_PORT):
        raise LabError(f"port {LOCUST_PORT} is taken: is a Locust web UI already open at http://{HOST}:{LOCUST_PORT} ?")
    host = _target(lab, host)
    argv = [sys.executable, "-m", "locust", "-f", str(scenario), "--host", host]
    argv += ["--web-host", HOST, "--web-port", str(LOCUST_PORT)]
    config = lab.manifest.loadtest
    users, rate = config.web_users or config.users, config.web_spawn_rate or config.spawn_rate
    argv += ["-u", str(users), "-r", str(rate), "-t", WEB_RUN_TIME]
    print(f"[locust] web UI: http://{HOST}:{LOCUST_PORT}  (target {host}; Ctrl+C to stop)")
    print(f"[locust] the form opens with {users} users, +{rate}/s, for {WEB_RUN_TIME}: press Start")
    env = dict(os.environ, QUEUELABS_API_URL=host, PYTHONUNBUFFERED="1") | config.web_env
    if variants := lab.manifest.loadtest.variants:
        env["LOADTEST_VARIANT"] = os.environ.get("LOADTEST_VARIANT", variants[0])
        print(f"[locust] variant: {env['LOADTEST_VARIANT']} (set LOADTEST_VARIANT={' or '.join(variants)})")
    try:
        return subprocess.run(argv, cwd=LOADTEST_DIR, env=env).returncode
    except KeyboardInterrupt:
        return 0
