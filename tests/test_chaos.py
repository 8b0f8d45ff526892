"""`make chaos`'s parts that need no server: how a row's refusals become seconds of 503, and
lab 05's classic-queue copy of the reference (its edits must still find their text)."""

from queuelabs.chaos import cluster_rows
from queuelabs.chaos.system import refused_seconds
from queuelabs.labs import find_lab


def test_refused_seconds_run_from_each_first_refusal_to_the_next_202():
    assert refused_seconds([]) == 0
    assert refused_seconds([(1.0, True), (2.0, True)]) == 0
    # two refusals then a 202 at 4.5 (answers arrive out of order from two threads), then one more refusal at the end
    answers = [(3.0, False), (2.0, False), (4.5, True), (5.0, True), (6.0, False), (6.5, False)]
    assert refused_seconds(answers) == (4.5 - 2.0) + (6.5 - 6.0)


def test_the_classic_copy_of_lab_05s_reference_declares_classic_queues(tmp_path, monkeypatch):
    monkeypatch.setattr(cluster_rows, "RUN_DIR", tmp_path)
    tree = cluster_rows.classic_reference(find_lab("05"))
    text = (tree / "app" / "celery_app.py").read_text()
    assert "REPLICATED: dict = {}" in text and 'EXCHANGE_TYPE = "direct"' in text
    assert '"x-queue-type": "quorum"' not in text
    assert (tree / "downstream").is_dir(), "the copy runs its own payment service too"
