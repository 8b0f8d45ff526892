"""Maintenance: regenerate or check the starters, reset a lab, jump ahead."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import click

from .. import gradebook, starter
from ..labs import Lab, all_labs, find_lab
from ..settings import RUN_DIR

BACKUP_DIR = RUN_DIR / "backups"


@click.command("starter")
@click.argument("lab_id", required=False)
@click.option("--write", is_flag=True, help="regenerate exercise/ from solution/")
@click.option("--strict", is_flag=True, help="fail on any difference, as CI does")
def starter_command(lab_id: str | None, write: bool, strict: bool) -> None:
    """Check (default) or --write the generated starters."""
    labs = [find_lab(lab_id)] if lab_id else all_labs()
    failed = False
    for lab in labs:
        if write:
            changed = starter.write(lab)
            click.echo(
                f"lab {lab.id}: exercise/ {'regenerated: ' + ', '.join(changed) if changed else 'already up to date'}"
            )
            continue
        problems = starter.differences(lab)
        if not problems:
            click.echo(f"lab {lab.id}: exercise/ matches the generator")
        elif os.environ.get("CI") or strict:
            failed = True
            click.echo(f"lab {lab.id}: exercise/ is out of date with solution/ (run `make starter`):")
            for line in problems:
                click.echo(f"  {line}")
        else:
            # A learner's own work differs from the starter by design; CI checks the committed tree.
            click.echo(
                f"lab {lab.id}: exercise/ differs from the generated starter in {len(problems)} file(s) "
                "(your own work; CI enforces the match)"
            )
    if failed:
        raise SystemExit(1)


def backup(lab: Lab) -> Path:
    dest = BACKUP_DIR / f"{lab.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    shutil.copytree(lab.exercise_dir, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


@click.command()
@click.argument("lab_id")
def reset(lab_id: str) -> None:
    """Put a lab's untouched starter back (your work is backed up first)."""
    lab = find_lab(lab_id)
    if not starter.differences(lab):  # nothing of yours to save, nothing to put back
        gradebook.clear_reports(lab)
        click.echo(f"lab {lab.id}: exercise/ is already the untouched starter (nothing to back up)")
        return
    saved = backup(lab)
    starter.write(lab)
    gradebook.clear_reports(lab)
    click.echo(
        f"lab {lab.id}: exercise/ is the untouched starter again (your version is saved in {gradebook.rel(saved)})"
    )


@click.command()
@click.argument("lab_id")
def jump(lab_id: str) -> None:
    """Trainers: solve every lab before LAB with the reference solution."""
    target = find_lab(lab_id)
    for lab in all_labs():
        if lab.id >= target.id or not lab.exercises:
            continue
        saved = backup(lab)
        shutil.rmtree(lab.exercise_dir)
        shutil.copytree(lab.solution_dir, lab.exercise_dir, ignore=shutil.ignore_patterns("__pycache__"))
        gradebook.clear_reports(lab)
        gradebook.record_solved(lab)
        click.echo(
            f"lab {lab.id}: solved with the reference solution (your version is saved in {gradebook.rel(saved)})"
        )
    click.echo(f"Ready for lab {target.id}: read {gradebook.rel(target.dir / 'README.md')}")


COMMANDS = [starter_command, reset, jump]
