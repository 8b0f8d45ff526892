"""`make bench LAB=02`, shortened: its robust claim checked on every run of `make test`.

Throughput ratios need quiet, longer runs (`make bench`); what must hold on any
machine is the fault: with RabbitMQ frozen by pid, once each API stopped accepting
submissions, the reference and the tuned variant answer every submission with a 503
before the thaw and keep answering the cheap route; the naive variant, its socket
buffers full, answers nothing until the thaw. The three APIs run side by side;
figures are compared in one run.
"""

import shutil

import pytest

from queuelabs.bench import bench_env, variants_of
from queuelabs.bench import measure as bench
from queuelabs.bench.report import p95
from queuelabs.bench.tuned import TunedVariantError, apply_edits
from queuelabs.isolation import delete_queues
from queuelabs.labs import find_lab
from queuelabs.stack import ensure_test_vhost


@pytest.fixture
def short_rounds(monkeypatch):
    # FREEZE_SECONDS stays: the clocked submissions need its whole length to be answered before the thaw.
    for name, seconds in (("IDLE_SECONDS", 1.5), ("LOAD_SECONDS", 3.0), ("RAW_SECONDS", 1.0)):
        monkeypatch.setattr(bench, name, seconds)


def test_a_frozen_broker_leaves_the_reference_and_tuned_apis_answering(short_rounds):
    lab = find_lab("02")
    assert ensure_test_vhost() is None
    queues = lab.manifest.checkpoints.queues
    delete_queues(queues)
    reference, tuned, naive = variants = variants_of(lab, bench_env(lab))
    try:
        for variant in variants:
            bench.start_api(variant, 1, lab.solution_dir)
        raws = bench.run_rounds(
            variants,
            rounds=1,
            connections=8,
            code_dir=lab.solution_dir,
            env=reference.env,
            queues=queues,
            progress=print,
        )
    finally:
        for variant in variants:
            if variant.api is not None:
                variant.api.stop()
        delete_queues(queues)
    assert raws["unconfirmed"][0] > 0 and raws["confirmed"][0] > 0, raws
    assert all(variant.rates[0] > 0 for variant in variants), [(v.name, v.rates) for v in variants]
    assert reference.lines < tuned.lines, (reference.lines, tuned.lines)
    assert naive.fill_seconds[0] < bench.FILL_LIMIT, f"the naive variant still accepted after {bench.FILL_LIMIT} s"
    naive_frozen = p95(naive.frozen[0])  # the one round's probes
    # Its event loop sat in apply_async until the thaw: not one clocked submission answered before it.
    assert not any(early for _, _, early in naive.frozen_submits[0]), naive.frozen_submits[0]
    for variant in (reference, tuned):
        # Every submission answered, 202 (before the freeze) or a fast 503, never a 500.
        assert set(variant.frozen_answers) <= {"202", "503"}, (variant.name, variant.frozen_answers)
        assert variant.frozen_answers.get("503", 0) > 0, (variant.name, variant.frozen_answers)
        # Each clocked submission: a 503 within its time limit, while RabbitMQ was still frozen.
        assert all(status == "503" and early for _, status, early in variant.frozen_submits[0]), (
            variant.name,
            variant.frozen_submits[0],
        )
        frozen = p95(variant.frozen[0])
        assert frozen * 10 < naive_frozen, f"{variant.name}: cheap route p95 {frozen:.2f} s, naive {naive_frozen:.2f} s"
    print(f"naive, RabbitMQ frozen: {naive.fill_accepted[0]} 202s before it hung; cheap route p95 {naive_frozen:.2f} s")


def _reference_copy(lab, tmp_path):
    shutil.copytree(lab.solution_dir / "app", tmp_path / "app", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_the_tuned_variants_edits_apply_to_the_reference(tmp_path):
    """bench/tuned/ declares only what it changes: whole new modules, and edits that still find their text."""
    lab = find_lab("02")
    tuned = lab.dir / "bench" / "tuned"
    tree = _reference_copy(lab, tmp_path)
    assert apply_edits(tree, tuned / "edits.toml") >= 2
    assert "\n    await set_together(redis" in (tree / "app" / "services.py").read_text()
    assert "\n    gc.freeze()\n    try:" in (tree / "app" / "main.py").read_text()
    carried = sorted(p.name for p in (tuned / "app").glob("*.py"))
    assert carried == ["broker.py", "redis_batch.py"], f"bench/tuned/app/ holds whole modules only: {carried}"


def test_a_stale_tuned_edit_is_a_one_line_error_naming_it(tmp_path):
    lab = find_lab("02")
    tree = _reference_copy(lab, tmp_path)
    services = tree / "app" / "services.py"
    services.write_text(services.read_text().replace("await redis.set(", "await redis.setex("))
    with pytest.raises(TunedVariantError, match=r"edit 'Redis records in one pipeline: the write'.*no longer in"):
        apply_edits(tree, lab.dir / "bench" / "tuned" / "edits.toml")
