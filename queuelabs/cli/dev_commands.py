"""`queuelabs dev ...`: the maintainers' commands in one group (learners never need them).

prove and starter stay at the top level too: CI, the Makefile and CONTRIBUTING
call them there. bench, chaos and screenshots take minutes and a quiet machine.
"""

from __future__ import annotations

import sys

import click

from .grading_commands import prove
from .maintenance_commands import starter_command


@click.command("bench")
@click.argument("lab_id", default="02")
@click.option("--processes", default=1, show_default=True, help="uvicorn processes per API (as `make lab02` runs it)")
@click.option("--connections", default=None, type=int, help="flooding connections (default: the bench's)")
@click.option("--rounds", default=3, show_default=True, help="rounds of raw loop, floods and a frozen broker")
def bench_command(lab_id: str, processes: int, connections: int | None, rounds: int) -> None:
    """The naive, reference and tuned APIs of a lab under the same load, in one run."""
    from .. import bench  # imports the load tools only when asked

    options = {"connections": connections} if connections else {}
    sys.exit(bench.run(lab_id, processes=processes, rounds=rounds, **options))


@click.command("chaos")
@click.argument("lab_id")
@click.option(
    "--row", "only", default=None, help="only the rows whose title contains one of these comma-separated texts"
)
def chaos_command(lab_id: str, only: str | None) -> None:
    """Kill and freeze servers and workers while a lab's reference works, and count what survived."""
    from ..chaos.suite import main

    sys.exit(main(lab_id, only))


@click.command("screenshots")
def screenshots_command() -> None:
    """Re-take docs/screenshots/ (headless Chromium, lab 02 under the projector preset)."""
    from .. import screenshots

    sys.exit(screenshots.main())


@click.command("test")
@click.option(
    "--parallel/--serial",
    default=True,
    help="make prove beside the tests on servers of its own (the default; needs root and ip netns), or after them",
)
def test_command(parallel: bool) -> None:
    """make test's steps 5 and 6: the platform's tests and make prove, side by side when the machine allows."""
    from .. import test_streams

    sys.exit(test_streams.run(parallel=parallel))


@click.group("dev")
def dev() -> None:
    """Maintainers: prove, starter, test, bench, chaos, screenshots."""


for command in (prove, starter_command, test_command, bench_command, chaos_command, screenshots_command):
    dev.add_command(command)

COMMANDS = [dev]
