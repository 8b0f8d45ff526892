"""`make jump` fills a lab with the reference: `make progress` says so (PASS, jumped), and
says your own passes apart; `make reset` of an untouched starter backs nothing up."""

import shutil

from queuelabs import gradebook, starter


def test_a_jumped_lab_reads_pass_jumped_not_your_work(toy, tmp_path, monkeypatch):
    monkeypatch.setattr(gradebook, "PROGRESS_DIR", tmp_path / "progress")
    assert set(gradebook.progress_of(toy).values()) == {"not started"}
    shutil.rmtree(toy.exercise_dir)  # what `make jump` does to each earlier lab
    shutil.copytree(toy.solution_dir, toy.exercise_dir)
    gradebook.record_solved(toy)
    assert gradebook.progress_of(toy) == {"99.1": "jumped", "99.2": "jumped"}


def test_an_untouched_starter_has_nothing_to_back_up(toy):
    assert starter.differences(toy) == []  # `make reset` then backs up nothing
    (toy.exercise_dir / toy.exercises[0].files[0]).write_text("# my own work\n")
    assert starter.differences(toy) != []
