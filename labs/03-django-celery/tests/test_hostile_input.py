"""No request can poison the data: the must-refuse table shared by labs 02, 03 and 04
(queuelabs/testing/must_refuse.py), then every hostile item sent and every page read back."""

from queuelabs.testing import must_refuse

BAD_INPUT = (400,)  # DRF answers bad input with 400


def test_every_input_of_the_must_refuse_table_is_refused(api):
    assert must_refuse.check_must_refuse(api, bad_input=BAD_INPUT) == len(must_refuse.MUST_REFUSE)


def test_hostile_items_leave_every_page_readable(api):
    must_refuse.check_hostile_items_leave_every_page_readable(api, bad_input=BAD_INPUT)
