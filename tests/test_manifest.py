"""lab.toml is typed and versioned: every mistake is one line naming the file and the key."""

import shutil
import subprocess
import sys

import pytest

from queuelabs import starter
from queuelabs.labs import load_lab
from queuelabs.manifest import ManifestError


@pytest.fixture
def toy(tmp_path, request):
    shutil.copytree(request.path.parent / "toylab", tmp_path / "toylab", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path / "toylab"


def edit(lab_dir, old, new):
    path = lab_dir / "lab.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    "old, new, says",
    [
        ('title = "Toy lab"', 'title = "Toy lab"\ncolour = "blue"', "lab.colour: unknown key"),
        ('id = "99.2"', 'id = "99.1"', "exercise 99.1 is declared twice"),
        ('hints = ["The starter returns', 'hints = ["  ", "The starter returns', "exercise.1.hints.0"),
        ("format_version = 1", "format_version = 2", "format_version = 2, this platform reads 1"),
        ('files = ["toy/maths.py"]\nhints = ["Return', 'files = []\nhints = ["Return', "exercise.0.files"),
    ],
)
def test_a_broken_manifest_is_one_clear_line(toy, old, new, says):
    edit(toy, old, new)
    with pytest.raises(ManifestError) as caught:
        load_lab(toy)
    message = str(caught.value)
    assert says in message and "\n" not in message and str(toy / "lab.toml") in message


def test_a_region_outside_its_declared_files_is_refused(toy):
    edit(
        toy,
        'id = "99.2"\ntitle = "Pick a greeting"\nfiles = ["toy/maths.py"]',
        'id = "99.2"\ntitle = "Pick a greeting"\nfiles = ["toy/other.py"]',
    )
    with pytest.raises(
        starter.RegionError, match=r"maths.py:\d+: a region of exercise 99.2, whose files in lab.toml are toy/other.py"
    ):
        starter.generate(load_lab(toy))


def test_the_cli_says_it_in_one_line_without_a_traceback(tmp_path):
    broken = tmp_path / "labs" / "99-toy"
    shutil.copytree("tests/toylab", broken)
    edit(broken, 'title = "Toy lab"', 'title = "Toy lab"\ncolour = "blue"')
    code = "import sys; from queuelabs.cli import main; sys.argv = ['queuelabs', 'starter', '99']; main()"
    env_code = f"import queuelabs.settings as s, pathlib; s.LABS_DIR = pathlib.Path({str(tmp_path / 'labs')!r}); {code}"
    done = subprocess.run([sys.executable, "-c", env_code], capture_output=True, text=True)
    assert done.returncode == 2
    assert "unknown key" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
