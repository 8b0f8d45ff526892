"""Every notebook runs headless against its lab's reference solution and draws a figure."""

import nbformat
import pytest
from nbclient import NotebookClient

from queuelabs.settings import REPO_ROOT

NOTEBOOKS = REPO_ROOT / "notebooks"
# notebook -> (lab, the lab's processes it needs, extra environment)
LABS = {
    "01-sync-vs-async.ipynb": ("01", ("app",), {}),
    "02-fastapi-celery.ipynb": ("02", ("api", "worker"), {"TASK_STEP_SECONDS": "0.1"}),
    "03-django-celery.ipynb": ("02+03", (), {}),  # both references at once (fastapi_and_django)
    "04-retries-idempotency.ipynb": ("04", ("downstream", "api", "worker"), {}),
}


def test_every_notebook_is_covered():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(LABS)


def test_notebooks_are_committed_without_outputs():
    for path in NOTEBOOKS.glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        dirty = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and cell.get("outputs")]
        assert not dirty, f"{path.name}: cells {dirty} have outputs; clear them before committing"


@pytest.mark.parametrize("name", sorted(LABS))
def test_notebook_runs_and_plots(name, request, run_solution, monkeypatch):
    lab_id, processes, env = LABS[name]
    if lab_id == "02+03":  # lab 03's notebook: the same batch on lab 02's and lab 03's references
        for one, url in request.getfixturevalue("fastapi_and_django").items():
            monkeypatch.setenv(f"QUEUELABS_LAB{one}_URL", url)
        return execute_and_check(name)
    if processes[0] == "downstream":  # lab 04: the worker charges the payment service started first
        downstream = run_solution(lab_id, "downstream", env=env)["downstream"]
        env = {**env, "DOWNSTREAM_URL": downstream.url}
        monkeypatch.setenv("DOWNSTREAM_URL", downstream.url)
        processes = processes[1:]
    running = run_solution(lab_id, *processes, env=env)
    first = running[processes[0]]
    monkeypatch.setenv("QUEUELABS_API_URL", first.url)  # the kernel inherits this environment
    execute_and_check(name)


def execute_and_check(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()

    outputs = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]
    errors = [out for out in outputs if out.output_type == "error"]
    assert not errors, errors
    figures = [out for out in outputs if "image/png" in out.get("data", {})]
    assert figures, f"{name} produced no figure"
