"""No request can poison the data: the rows of the must-refuse table shared by labs 02, 03
and 04 (queuelabs/testing/must_refuse.py) for the one route of it lab 04 serves."""

from queuelabs.testing import must_refuse

PATHS = ("/api/async/process",)  # lab 04 has no items and no welcome email


def test_every_input_of_the_must_refuse_table_is_refused(api):
    expected = sum(path in PATHS for _, path, _ in must_refuse.MUST_REFUSE)
    assert must_refuse.check_must_refuse(api, bad_input=(422,), paths=PATHS) == expected
