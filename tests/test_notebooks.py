"""Every notebook runs headless against its lab's reference solution, draws figures a projector
shows at 1024x768, and takes the time it says it takes."""

import re

import nbformat
import pytest

from queuelabs.testing.notebooks import LABS, NOTEBOOKS, ON_THE_CLUSTER, stated_seconds


def test_every_notebook_is_covered():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(LABS)


def test_notebooks_are_committed_without_outputs():
    for path in NOTEBOOKS.glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        dirty = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and cell.get("outputs")]
        assert not dirty, f"{path.name}: cells {dirty} have outputs; clear them before committing"


@pytest.mark.parametrize("name", sorted(set(LABS) - ON_THE_CLUSTER))
def test_notebook_runs_and_plots(name, run_notebook):
    run_notebook(name)


# The projector style every notebook sets before its first figure (text sizes in points).
SIZES = ("font.size", "axes.titlesize", "axes.labelsize", "xtick.labelsize", "ytick.labelsize", "legend.fontsize")


@pytest.mark.parametrize("name", sorted(LABS))
def test_notebook_is_readable_on_a_projector(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    code = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")
    for size in SIZES:
        set_to = re.search(rf'"{re.escape(size)}": (\d+)', code)
        assert set_to and int(set_to.group(1)) >= 14, f"{name}: plt.rcParams[{size!r}] must be 14 or more"
    small = re.findall(r"fontsize=(\d+)", code)
    assert all(int(points) >= 14 for points in small), f"{name}: text under 14 pt: fontsize={small}"
    stated_seconds(nb)
