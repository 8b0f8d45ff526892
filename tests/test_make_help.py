"""`make help`: every target in one of three groups (learners, trainers, maintainers), every variable listed."""

import re
import subprocess

from queuelabs.settings import REPO_ROOT

# The Makefile's own variables, not something a user sets.
INTERNAL = {"VENV", "QL", "PY", "STAMP", "UV", "MAKE", "MAKEFILE_LIST", "TARGET_LINES"}


def test_make_help_groups_every_target_and_lists_every_variable():
    makefile = (REPO_ROOT / "Makefile").read_text()
    shown = subprocess.run(["make", "-s", "help"], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    for group in ("Learners:", "Trainers:", "Maintainers:"):
        assert f"\n{group}\n" in shown, shown
    assert "In no group" not in shown, shown
    documented = {name.replace("lab%", "labNN") for name in re.findall(r"^([a-z0-9%-]+):.*## ", makefile, re.M)}
    listed = set(re.findall(r"^  make (\S+)", shown, re.M))
    assert documented == listed, f"not listed: {documented - listed}, listed twice or unknown: {listed - documented}"
    used = (
        set(re.findall(r"\$\(([A-Z_]+)\)", makefile))
        - INTERNAL
        - {v for v in makefile.split() if v.endswith("_TARGETS")}
    )
    variables = shown.split("Variables:", 1)[1]
    missing = {name for name in used if not re.search(rf"\b{name}=", variables)}
    assert not missing, f"make help does not list {sorted(missing)}"
