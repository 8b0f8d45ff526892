"""Short headless Locust runs through the same runner `make loadtest` uses."""

import csv
import html
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import httpx

from queuelabs.isolation import rabbitmq_api
from queuelabs.key_result import KEY_RESULT_SECTION_ID
from queuelabs.labs import find_lab
from queuelabs.loadtest import REPORTS_DIR, run_comparison, run_loadtest, run_locust, scenario_of
from queuelabs.locust_report import HTTP_METHODS, ROUND_TRIPS_SECTION_ID, failure_text, read_round_trips, read_stats
from queuelabs.settings import HOST, LOCUST_PORT, REPO_ROOT
from queuelabs.testing.checks import patience


def _newest_report(lab_id: str):
    return max(REPORTS_DIR.glob(f"lab{lab_id}-*"), key=lambda p: p.stat().st_mtime)


def key_result(html_report, run_time: int) -> str:
    """The key-result section on top of a report, checked to say the run lasted what it announced."""
    page = html_report.read_text()
    section = re.search(
        rf'<section id="{KEY_RESULT_SECTION_ID}" data-run-time="(\d+)" data-measured="([\d.]+)">(.*?)</section>',
        page,
        re.S,
    )
    assert section, f"{html_report.name} has no key-result section"
    assert page.index(section.group(0)) < page.index('<div id="root">'), "the key result must come first"
    announced, measured = int(section.group(1)), float(section.group(2))
    assert announced == run_time, (announced, run_time)
    # Locust's statistics span from the first user to the last answer: a little under the run
    # time, never the 10-18 s of 20 that a stale gevent clock gave.
    assert 0.8 * run_time <= measured <= run_time + 5, f"ran {measured} s of the announced {run_time} s"
    return html.unescape(section.group(3))


def _round_trip_notes(report) -> list[str]:
    return [row["note"] for row in read_round_trips(report / "lab02_round_trips.csv") if int(row["unfinished"])]


def test_unfinished_tasks_without_a_worker_fail_the_run_and_say_so(run_solution, monkeypatch):
    """Runs first in this module: no worker consumes the test vhost yet."""
    running = run_solution("02", "api", env={"TASK_STEP_SECONDS": "0.05"})
    monkeypatch.setenv("LOADTEST_TASK_TIMEOUT", "1")
    rc = run_loadtest(find_lab("02"), users=8, spawn_rate=8, seconds=6, host=running["api"].url)
    assert rc == 1, "tasks that never finish because no worker runs must fail the run"
    notes = _round_trip_notes(_newest_report("02"))
    assert notes and all("no worker consumes" in note for note in notes), notes


def test_lab02_api_has_zero_failed_requests(run_solution):
    running = run_solution("02", "api", "worker", env={"TASK_STEP_SECONDS": "0.05"})
    rc = run_loadtest(find_lab("02"), users=10, spawn_rate=10, seconds=10, host=running["api"].url)
    assert rc == 0, "the load test saw failed requests: see the table above"
    report = _newest_report("02")
    rows = read_stats(report / "lab02_stats.csv")
    total = next(r for r in rows if r.is_total)
    assert total.requests > 50 and total.failures == 0
    # The round trip is not a request: the aggregate (the Charts tab) holds the API's requests only.
    assert {r.method for r in rows if not r.is_total} <= HTTP_METHODS, rows
    finished = sum(int(row["finished"]) for row in read_round_trips(report / "lab02_round_trips.csv"))
    assert finished > 0
    # Locust's HTML report carries the same round trips as the CSV, in a section of their own.
    page = (report / "lab02.html").read_text()
    section = re.search(rf'<section id="{ROUND_TRIPS_SECTION_ID}" data-finished="(\d+)"', page)
    assert section, "the HTML report has no round-trip section"
    assert int(section.group(1)) == finished and "<td" in page[section.start() :], section.group(0)
    assert "the queue and the worker wait, the API does not" in key_result(report / "lab02.html", 10)


def test_tasks_queued_behind_a_busy_worker_are_not_blamed_on_it(run_solution, monkeypatch):
    """At 200 users low-priority tasks starve; the report must say so, not "is a worker running?"."""
    running = run_solution("02", "api", "worker", env={"TASK_STEP_SECONDS": "0.05"})
    for name, value in {"LOADTEST_TASK_TIMEOUT": "1.5", "LOADTEST_MIN_ITERATIONS": "40"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LOADTEST_MAX_ITERATIONS", "40")  # 2 s tasks: more than the worker's slots can take
    rc = run_loadtest(find_lab("02"), users=12, spawn_rate=12, seconds=6, host=running["api"].url)
    assert rc == 0, "tasks queued behind a busy worker are the queue working, not a failure"
    notes = _round_trip_notes(_newest_report("02"))
    assert notes, "expected tasks still queued or running when the scenario gave up"
    assert all("the worker runs, the task is queued behind" in n or "the worker is on it" in n for n in notes), notes


def test_lab01_blocking_variant_is_ten_times_worse(run_solution, monkeypatch):
    """Issue #4: the cheap endpoint's p95 while the blocking variant runs is >= 10x the fixed one's.

    Each slow report waits 1 s here, not the scenario's 0.5 s: a blocked loop holds a cheap request
    for up to three of them, while a busy machine (make test runs make prove beside this) adds its
    scheduling delay to the fixed run's p95 too; the longer wait keeps the ratio about the loop."""
    monkeypatch.setenv("LAB01_SLOW_SECONDS", "1.0")
    running = run_solution("01", "app")
    rc = run_loadtest(find_lab("01"), users=6, spawn_rate=6, seconds=8, host=running["app"].url)
    assert rc == 0
    report = _newest_report("01")
    p95 = {}
    for variant in ("blocking", "fixed"):
        rows = read_stats(report / f"lab01-{variant}_stats.csv")
        p95[variant] = next(r for r in rows if r.name == "cheap").p95
    assert p95["fixed"] > 0
    assert p95["blocking"] / p95["fixed"] >= 10, p95
    for variant in ("blocking", "fixed"):  # both pages carry the ratio, as the terminal printed it
        result = key_result(report / f"lab01-{variant}.html", 8)
        assert f"blocking p95 / fixed p95 = {p95['blocking'] / p95['fixed']:.1f}x" in result, result


def test_lab04_loses_no_task_while_the_payment_service_fails(run_solution, monkeypatch):
    """Issue #11: idempotent submissions (some sent twice) against a flaky payment service: none lost."""
    running = run_solution("04", "downstream")
    downstream = running["downstream"].url
    running = run_solution("04", "api", "worker", env={"DOWNSTREAM_URL": downstream})
    monkeypatch.setenv("DOWNSTREAM_URL", downstream)
    monkeypatch.setenv("LOADTEST_SETTLE_SECONDS", "20")
    rc = run_loadtest(find_lab("04"), users=5, spawn_rate=5, seconds=10, host=running["api"].url)
    summary = [line for line in (_newest_report("04") / "lab04.log").read_text().splitlines() if "accepted" in line]
    assert summary, "the scenario printed no summary line"
    assert rc == 0, f"failed requests or lost tasks: {summary[-1]}"
    assert summary[-1].endswith("lost 0") and "mismatched 0" in summary[-1], summary[-1]
    accepted = int(summary[-1].split("accepted ")[1].split(",")[0])
    assert accepted >= 5, f"too few orders to count: {summary[-1]}"
    result = key_result(_newest_report("04") / "lab04.html", 10)
    assert summary[-1].removeprefix("[lab04] ") in result and "lost 0" in result, result


def test_lab02_and_lab03_under_the_same_load_compared(fastapi_and_django, capsys):
    """`make loadtest LAB=02,03`: the same scenario on FastAPI and Django at the same time, after a
    warm-up that is not reported, one table, zero failures on both."""
    labs = [find_lab("02"), find_lab("03")]
    rc = run_comparison(labs, users=8, spawn_rate=8, seconds=10, hosts=fastapi_and_django, warm_up=5)
    printed = capsys.readouterr().out
    assert rc == 0, f"the comparison saw failed requests:\n{printed[-3000:]}"
    report = max(REPORTS_DIR.glob("compare-lab02-lab03-*"), key=lambda p: p.stat().st_mtime)
    for lab_id in ("02", "03"):
        total = next(r for r in read_stats(report / f"lab{lab_id}_stats.csv") if r.is_total)
        # (A busy machine starves two Locust runs at once: a floor that proves both ran, not a rate.)
        assert total.requests >= 10 and total.failures == 0, (lab_id, total)
        assert not (report / f"warm-up-lab{lab_id}_stats.csv").samefile(report / f"lab{lab_id}_stats.csv")
    assert "lab 03 / lab 02" in printed, printed[-3000:]
    for lab_id in ("02", "03"):  # each lab's page carries the comparison, and says how it was made
        result = key_result(report / f"lab{lab_id}.html", 10)
        assert "at the same time" in result and "after 5 s of warm-up" in result, result
        assert re.search(r"lab 03 / lab 02, all requests: p95 [\d.]+x", result), result


def test_identical_failures_are_one_row_with_a_count(run_solution):
    """An API whose MongoDB does not answer: its refusals group into one row per endpoint of
    Locust's Failures table, with a count, not one row per request."""
    running = run_solution("02", "api", env={"MONGODB_URL": "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=300"})
    rc = run_loadtest(find_lab("02"), users=6, spawn_rate=6, seconds=6, host=running["api"].url)
    assert rc == 1, "requests to an API without its database must fail the run"
    with open(_newest_report("02") / "lab02_failures.csv", newline="") as fh:
        failures = list(csv.DictReader(fh))
    assert failures, "no failure was recorded"
    names = [(row["Method"], row["Name"]) for row in failures]
    assert len(names) == len(set(names)), [row["Error"] for row in failures]  # one row per endpoint
    assert sum(int(row["Occurrences"]) for row in failures) > 2 * len(failures), failures


def test_a_failure_text_leaves_out_what_differs_between_requests():
    answers = [
        (503, '{"detail": "task 3f2b9c1e-8a4d-4e7f-9b2a-1c5d6e7f8a9b: RabbitMQ did not answer in 2.0 s"}'),
        (503, '{"detail": "task 0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d: RabbitMQ did not answer in 2.5 s"}'),
    ]
    texts = {failure_text("202", SimpleNamespace(status_code=code, text=text)) for code, text in answers}
    assert len(texts) == 1, texts
    assert texts.pop().startswith("expected 202, got 503: ")
    # No answer at all (Locust's status 0): what the client raised, not "got 0".
    dropped = ConnectionError("Connection aborted.", "Remote end closed connection without response")
    text = failure_text("202", SimpleNamespace(status_code=0, text="", error=dropped))
    assert text.startswith("expected 202, got no answer (ConnectionError: "), text
    assert "Remote end closed connection" in text, text


def test_the_web_ui_opens_with_the_projector_preset(run_solution):
    """`make locust LAB=02`: Locust's form opens filled in with lab.toml's web preset."""
    config = find_lab("02").manifest.loadtest
    assert config.web_users and config.web_users > config.users, "lab 02 needs a projector preset that fills the queue"
    running = run_solution("02", "api", env={"TASK_STEP_SECONDS": "0.05"})
    argv = [sys.executable, "-m", "queuelabs.cli", "locust", "02", "--host", running["api"].url]
    web_ui = subprocess.Popen(argv, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        page = None
        deadline = time.monotonic() + patience(60)
        while page is None and time.monotonic() < deadline and web_ui.poll() is None:
            try:
                page = httpx.get(f"http://{HOST}:{LOCUST_PORT}/", timeout=5).text
            except httpx.HTTPError:
                time.sleep(0.5)
        assert page, f"the web UI never answered: {web_ui.stdout.read() if web_ui.poll() is not None else ''}"
        form = {key: int(value) for key, value in re.findall(r'"(num_users|spawn_rate)": (\d+)', page)}
        assert form == {"num_users": config.web_users, "spawn_rate": config.web_spawn_rate}, form
    finally:
        web_ui.send_signal(signal.SIGINT)  # as Ctrl+C does
        try:
            web_ui.wait(timeout=30)
        except subprocess.TimeoutExpired:
            web_ui.kill()
            web_ui.wait()


def _ready_messages() -> int:
    """Messages waiting in every queue of every vhost (nothing else runs during the test)."""
    # With `name` asked too: a queue without statistics yet comes back as [] rather than an object.
    queues = rabbitmq_api("GET", "/queues", params={"columns": "name,messages_ready"}).json()
    return sum(queue.get("messages_ready", 0) for queue in queues)


def _preset_run(tmp_path, host: str, env: dict[str, str], seconds: int) -> tuple[float, list[int]]:
    """The projector preset headless for `seconds`: GET /api/items's p95 (ms) and the queue depth every 2 s."""
    config = find_lab("02").manifest.loadtest
    prefix = tmp_path / f"preset-{len(env)}" / "lab02"
    prefix.parent.mkdir()
    run_env = dict(os.environ, QUEUELABS_API_URL=host) | env
    args = {"host": host, "users": config.web_users, "rate": config.web_spawn_rate, "seconds": seconds}
    with ThreadPoolExecutor(1) as pool:
        run = pool.submit(run_locust, scenario_of(find_lab("02")), **args, prefix=prefix, env=run_env, label="preset")
        depths = []
        while not run.done():
            depths.append(_ready_messages())
            time.sleep(2)
        assert run.result() in (0, 1), (prefix.with_suffix(".log")).read_text()[-2000:]
    rows = {(row.method, row.name): row for row in read_stats(Path(f"{prefix}_stats.csv"))}
    items = rows[("GET", "/api/items")]
    assert items.requests > 20 and items.failures == 0, items
    return items.p95, depths


def test_the_projector_preset_fills_the_queue_while_the_api_stays_fast(run_solution, tmp_path):
    """lab.toml's web preset (users, rate and its burst submitters), headless: RabbitMQ's backlog
    grows through the run while GET /api/items's p95 stays within 3x of the same users' without
    the burst submitters (two runs on the same machine, compared, not absolute times)."""
    web_env = find_lab("02").manifest.loadtest.web_env
    assert int(web_env.get("LOADTEST_BURST_USERS", "0")) > 0, "the preset needs burst submitters"
    running = run_solution("02", "api", "worker", env={"TASK_STEP_SECONDS": "0.5"})
    host = running["api"].url
    quiet_p95, _ = _preset_run(tmp_path, host, {"LOADTEST_BURST_USERS": "0"}, 15)
    burst_p95, depths = _preset_run(tmp_path, host, web_env, 15)
    print(f"GET /api/items p95: {quiet_p95:.0f} ms without bursts, {burst_p95:.0f} ms with; depths {depths}")
    half = len(depths) // 2
    assert depths[-1] >= 20 and depths[-1] > max(depths[:half]), f"the queue did not grow: {depths}"
    assert burst_p95 <= 3 * max(quiet_p95, 20), f"the API slowed: p95 {quiet_p95} ms -> {burst_p95} ms"
