"""Lab 01's fixtures. The generic ones (lab, code_dir, stack, start_lab_process...)
come from the testing package, queuelabs/testing/fixtures.py."""

import pytest


@pytest.fixture
def app_server(stack, start_lab_process):
    """The lab's app (the graded code) under a real uvicorn, one worker, on a free port."""
    return start_lab_process("app")
