"""Running a notebook headless and checking what it shows: for tests/test_notebooks.py and, for
lab 05's notebook (which needs `make cluster`), tests/test_cluster.py; the `run_notebook` fixture
in tests/conftest.py starts what a notebook talks to first."""

from __future__ import annotations

import base64
import os
import re
import struct
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from queuelabs.settings import REPO_ROOT

NOTEBOOKS = REPO_ROOT / "notebooks"
# notebook -> (lab, the lab's processes it needs, extra environment)
LABS = {
    "01-sync-vs-async.ipynb": ("01", ("app",), {}),
    "02-fastapi-celery.ipynb": ("02", ("api", "worker"), {"TASK_STEP_SECONDS": "0.1"}),
    "03-django-celery.ipynb": ("02+03", (), {}),  # both references at once (fastapi_and_django)
    "04-retries-idempotency.ipynb": ("04", ("downstream", "api", "worker"), {}),
    "05-beyond-one-machine.ipynb": ("05", ("downstream", "api", "worker"), {"TASK_STEP_SECONDS": "0.1"}),
}
# Lab 05's notebook kills a node of `make cluster`: it runs in tests/test_cluster.py, on the cluster
# that module starts once (starting its eleven processes again here would cost about a minute).
ON_THE_CLUSTER = {"05-beyond-one-machine.ipynb"}

STATED = re.compile(r"takes about (\d+) s\b")


def stated_seconds(nb) -> int:
    said = STATED.search(nb.cells[0].source)
    assert said, "the notebook's first cell must say how long it takes: 'takes about N s'"
    return int(said.group(1))


def png_width(data: str) -> int:
    return struct.unpack(">I", base64.b64decode(data)[16:20])[0]  # the IHDR chunk's width


def execute_and_check(name: str) -> None:
    """Run every cell; no error, at least one figure, none wider than a projector, and about as long as it says."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    started = time.monotonic()
    try:
        NotebookClient(
            nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
        ).execute()
    finally:
        if keep := os.environ.get("QUEUELABS_NOTEBOOK_OUT"):  # a maintainer looking at the figures, or at a failure
            nbformat.write(nb, Path(keep) / name)
    took = time.monotonic() - started

    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    errors = [out for out in outputs if out.output_type == "error"]
    assert not errors, errors
    figures = [out for out in outputs if "image/png" in out.get("data", {})]
    assert figures, f"{name} produced no figure"
    widths = [png_width(out["data"]["image/png"]) for out in figures]
    assert max(widths) <= 1024, f"{name}: a figure {max(widths)} pixels wide does not fit a 1024x768 projector"
    stated = stated_seconds(nb)
    print(f"{name}: ran in {took:.0f} s (it says about {stated} s)")
    # Generous, for a shared machine: a statement off by more than half is not true any more.
    assert took <= 1.5 * stated, f"{name} took {took:.0f} s but says it takes about {stated} s"
