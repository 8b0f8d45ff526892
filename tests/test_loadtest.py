"""Short headless Locust runs through the same runner `make loadtest` uses."""

from queuelabs.labs import find_lab
from queuelabs.loadtest import REPORTS_DIR, run_comparison, run_loadtest
from queuelabs.locust_report import read_stats


def _newest_report(lab_id: str):
    return max(REPORTS_DIR.glob(f"lab{lab_id}-*"), key=lambda p: p.stat().st_mtime)


def test_lab02_api_has_zero_failed_requests(run_solution):
    running = run_solution("02", "api", "worker", env={"TASK_STEP_SECONDS": "0.05"})
    rc = run_loadtest(find_lab("02"), users=10, spawn_rate=10, seconds=10, host=running["api"].url)
    assert rc == 0, "the load test saw failed requests: see the table above"
    rows = read_stats(_newest_report("02") / "lab02_stats.csv")
    total = next(r for r in rows if r.is_total)
    assert total.requests > 50 and total.failures == 0


def test_lab01_blocking_variant_is_ten_times_worse(run_solution):
    """Issue #4: the cheap endpoint's p95 while the blocking variant runs is >= 10x the fixed one's."""
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


def test_lab02_and_lab03_under_the_same_load_compared(fastapi_and_django, capsys):
    """`make loadtest LAB=02,03`: the same scenario on FastAPI and Django, one table, zero failures on both."""
    labs = [find_lab("02"), find_lab("03")]
    rc = run_comparison(labs, users=8, spawn_rate=8, seconds=8, hosts=fastapi_and_django)
    printed = capsys.readouterr().out
    assert rc == 0, f"the comparison saw failed requests:\n{printed[-3000:]}"
    report = max(REPORTS_DIR.glob("compare-lab02-lab03-*"), key=lambda p: p.stat().st_mtime)
    for lab_id in ("02", "03"):
        total = next(r for r in read_stats(report / f"lab{lab_id}_stats.csv") if r.is_total)
        assert total.requests > 30 and total.failures == 0, (lab_id, total)
    assert "lab 03 / lab 02" in printed, printed[-3000:]
