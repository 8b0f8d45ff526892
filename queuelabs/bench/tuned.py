"""The tuned variant's code folder: the reference, its whole new modules, and its edits.

labs/NN/bench/tuned/ holds the modules the variant adds or replaces whole (app/*.py)
and `edits.toml`, the few lines it changes in the reference's other modules, each
a find/replace applied the way a mutant is (queuelabs/mutants.py): a `find` text
that is not in the reference exactly once stops the benchmark with the edit's name.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

from ..labs import Lab
from ..mutants import MutantError, replace_once
from ..settings import REPO_ROOT, RUN_DIR

EDIT_KEYS = {"name", "file", "find", "replace"}


class TunedVariantError(Exception):
    """bench/tuned/ cannot be laid over the reference; the message says which edit and why."""


def apply_edits(tree: Path, edits_file: Path) -> int:
    """Make each edit of `edits_file` in `tree` (a copy of the reference); returns how many."""
    where = edits_file.relative_to(REPO_ROOT)
    try:
        edits = tomllib.loads(edits_file.read_text()).get("edit", [])
    except tomllib.TOMLDecodeError as exc:
        raise TunedVariantError(f"{where}: {exc}") from None
    for number, edit in enumerate(edits, 1):
        if set(edit) != EDIT_KEYS:
            raise TunedVariantError(f"{where}, edit #{number}: it needs exactly the keys {sorted(EDIT_KEYS)}")
        target = tree / edit["file"]
        if not target.is_file():
            raise TunedVariantError(f"{where}, edit '{edit['name']}': {edit['file']} is not in the reference")
        label = f"tuned variant's edit '{edit['name']}'"
        try:
            text = replace_once(
                target.read_text(),
                edit["find"],
                edit["replace"],
                label=label,
                file=edit["file"],
                declared_in=str(where),
            )
        except MutantError as exc:
            raise TunedVariantError(str(exc)) from None
        target.write_text(text)
    return len(edits)


def tuned_tree(lab: Lab) -> Path:
    """A copy of the reference's app with bench/tuned/'s modules laid over it and its edits made."""
    tuned = lab.dir / "bench" / "tuned"
    tree = RUN_DIR / "bench" / f"lab{lab.id}-tuned"
    shutil.rmtree(tree, ignore_errors=True)
    shutil.copytree(lab.solution_dir / "app", tree / "app", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(tuned / "app", tree / "app", dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    if (tuned / "edits.toml").is_file():
        apply_edits(tree, tuned / "edits.toml")
    return tree
