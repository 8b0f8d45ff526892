"""The demo's sentence on priority reads the real finishing order."""

from queuelabs.demo_priority import overtakes, why


def test_high_submitted_last_overtakes_waiting_low_ones():
    order = ["low #1", "low #2", "high #5", "high #6", "low #3", "low #4"]
    assert overtakes(order) == [(h, lo) for h in ("high #5", "high #6") for lo in ("low #3", "low #4")]
    assert "high #5 and high #6, submitted last, finished before low #3 and low #4" in why(order)


def test_no_overtaking_says_so_and_where_to_look():
    assert "No high task overtook" in why(["low #1", "low #2", "high #3"])
