"""`make bench LAB=02`, shortened: its robust claim checked on every run of `make test`.

Throughput ratios need quiet, longer runs (`make bench`); what must hold on any
machine is the fault: with RabbitMQ frozen by pid, the reference and the tuned
variant keep answering the cheap route and turn submissions into 503s, while the
naive variant stops answering altogether. The three APIs run side by side;
figures are compared in one run.
"""

import pytest

from queuelabs.bench import bench_env, variants_of
from queuelabs.bench import measure as bench
from queuelabs.bench.load import PROBE_TIMEOUT
from queuelabs.bench.report import p95
from queuelabs.labs import find_lab
from queuelabs.stack import ensure_test_vhost
from queuelabs.testing.isolation import delete_queues


@pytest.fixture
def short_rounds(monkeypatch):
    for name, seconds in (("IDLE_SECONDS", 1.5), ("LOAD_SECONDS", 3.0), ("FREEZE_SECONDS", 4.0), ("RAW_SECONDS", 1.0)):
        monkeypatch.setattr(bench, name, seconds)


def test_frozen_broker_blocks_the_naive_api_not_the_reference(short_rounds):
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
    for variant in (reference, tuned):
        # Every submission answered, 202 (before the freeze) or a fast 503, never a 500.
        assert set(variant.frozen_answers) <= {"202", "503"}, (variant.name, variant.frozen_answers)
        assert variant.frozen_answers.get("503", 0) > 0, (variant.name, variant.frozen_answers)
        assert p95(variant.frozen) < PROBE_TIMEOUT / 10, f"{variant.name}: cheap route p95 {p95(variant.frozen):.2f} s"
        # The naive variant: its event loop sat in apply_async, so its probes waited the whole time-out.
        assert p95(naive.frozen) >= 10 * p95(variant.frozen), (variant.name, p95(naive.frozen), p95(variant.frozen))
