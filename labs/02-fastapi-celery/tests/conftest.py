"""The solution's own tests (not checkpoints: they grade no exercise).

Run them with: .venv/bin/python -m pytest labs/02-fastapi-celery/tests --code solution
They reuse the checkpoints' fixtures and contract checks.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "checkpoints"))

from lab02_fixtures import api, celery_app, fresh_stack, lab_worker, silent_port, worker  # noqa: E402,F401
