"""Grading: check, hint, progress, prove."""

from __future__ import annotations

import click

from .. import gradebook, stack
from ..cluster import clients as cluster_clients
from ..labs import CODE_CHOICES, Lab, all_labs, find_exercise, find_lab


def require_services(lab: Lab) -> None:
    """Stop with one line per service the lab needs that is down (exit 3); a cheap check when the
    last grading run's full one is seconds old (stack.ready_for_grading)."""
    if problem := stack.ready_for_grading(lab.needs):
        click.echo(problem)
        raise SystemExit(3)


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("lab_id", required=False)
@click.option("--code", default="exercise", show_default=True, help="exercise (yours), solution, or a folder")
@click.option("--exercise", "exercise_id", default=None, help="grade one exercise only, e.g. 2.3")
@click.option("--strict", is_flag=True, help="exit 1 unless every exercise passes (for scripts)")
@click.option("--cold", is_flag=True, help="start every process afresh (by default the last check's are reused)")
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
def check(
    lab_id: str | None, code: str, exercise_id: str | None, strict: bool, cold: bool, pytest_args: tuple[str, ...]
) -> None:
    """Grade a lab's exercises (your code by default; every lab without LAB)."""
    if exercise_id:
        lab, _ = find_exercise(exercise_id)
        labs = [lab]
    else:
        labs = [find_lab(lab_id)] if lab_id else [lab for lab in all_labs() if lab.exercises]
    worst = 0
    for lab in labs:
        require_services(lab)
        gradebook.PROGRESS_DIR.mkdir(parents=True, exist_ok=True)
        report = gradebook.report_path(lab, code) if code in CODE_CHOICES and not exercise_id else None
        # The exercise table is the summary, unless pytest's own output is asked for (-v, --tb=...).
        verbose = any(a.startswith(("-v", "--tb")) for a in pytest_args)
        quiet = ["-rN"] if verbose else gradebook.TABLE_ONLY
        extra = [*quiet, *(["--exercise", exercise_id] if exercise_id else []), *pytest_args]
        # Warm: the lab's API and worker stay up for the next check of the same code (queuelabs/warm.py).
        if len(labs) == 1:
            result = gradebook.run_checkpoints_here(lab, code, extra, report, warm=not cold)
        else:
            result = gradebook.run_checkpoints(lab, code, extra, report, warm=not cold)
        # 1 means "graded, not everything passes yet": the table said so. Anything
        # else (pytest could not run, a usage error) is a real error.
        worst = max(worst, 0 if result == 1 and not strict else result)
    raise SystemExit(worst)


@click.command()
@click.argument("exercise_id")
@click.option("--all", "all_hints", is_flag=True, help="every hint at once")
def hint(exercise_id: str, all_hints: bool) -> None:
    """The next hint of one exercise (each call shows one more; --all for all)."""
    lab, ex = find_exercise(exercise_id)
    click.echo(f"Exercise {ex.id}: {ex.title}")
    files = ", ".join(gradebook.rel(lab.exercise_dir / f) for f in ex.files)
    click.echo(f"Edit:     {files} (look for `TODO Exercise {ex.id}`)")
    click.echo(f"Lesson:   {gradebook.rel(lab.dir / 'README.md')}")
    click.echo(f"Check:    make check EX={ex.id}")
    for number, text in gradebook.next_hints(ex, all_hints=all_hints):
        click.echo(f"\nHint {number} of {len(ex.hints)}:\n{text}")
    if not all_hints:
        click.echo(f"\n(`make hint EX={ex.id}` again for the next one, ALL=1 for all)")


MARKS = {"passed": "PASS", "jumped": "PASS", "failed": "FAIL", "not started": "TODO"}
SHOWN = {"jumped": "(jumped: the reference, put there by `make jump`)"}


@click.command()
def progress() -> None:
    """Every lab, every exercise: done or not."""
    total = done = jumped = 0
    width = max((len(ex.title) for lab in all_labs() for ex in lab.exercises), default=40) + 2
    for lab in all_labs():
        if not lab.exercises:
            continue
        click.echo(f"Lab {lab.id}: {lab.title}")
        for ex_id, status in gradebook.progress_of(lab).items():
            shown = SHOWN.get(status, status)
            click.echo(f"  {MARKS.get(status, ' ?? ')}  {ex_id:<5} {lab.exercise(ex_id).title:<{width}} {shown}")
            total += 1
            done += status in ("passed", "jumped")
            jumped += status == "jumped"
    by_jump = f", {jumped} of them by `make jump`" if jumped else ""
    click.echo(f"\n{done} of {total} exercises complete{by_jump} (from your last `make check LAB=NN` of each lab)")


@click.command()
@click.argument("lab_id", required=False)
@click.option(
    "--side",
    type=click.Choice(["all", "solution", "starter", "mutants"]),
    default="all",
    show_default=True,
    help="what to prove (all: the three in turn)",
)
@click.option("--load", default=0, show_default=True, help="CPU-bound processes kept busy meanwhile (a loaded laptop)")
def prove(lab_id: str | None, side: str, load: int) -> None:
    """Maintainers: every solution passes its checkpoints; every untouched starter and every mutant fails them."""
    labs = [find_lab(lab_id)] if lab_id else [lab for lab in all_labs() if lab.exercises]
    failures = []
    with gradebook.busy_cpus(load):
        for lab in labs:
            with cluster_clients.running_while("cluster" in lab.needs):
                require_services(lab)
                failures += gradebook.prove(lab, side)
    click.echo()
    if failures:
        click.echo("PROVE FAILED:")
        for line in failures:
            click.echo(f"  {line}")
        raise SystemExit(1)
    click.echo("prove: every solution passes; every untouched starter and every mutant fails its checkpoints")


@click.command()
@click.argument("lab_id")
@click.option("--code", default="exercise", show_default=True, help="exercise (yours), solution, or a folder")
def watch(lab_id: str, code: str) -> None:
    """Re-grade the exercise you are editing every time you save (Ctrl+C to stop)."""
    from ..watch import watch as watch_lab  # watchfiles only when watching

    lab = find_lab(lab_id)
    require_services(lab)
    raise SystemExit(watch_lab(lab, code))


COMMANDS = [check, hint, progress, prove, watch]
