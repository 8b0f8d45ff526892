"""`queuelabs`: the command behind every make target. `queuelabs --help` lists them.

One module per job: the stack (up, down, status, logs, compose), a lab's
processes (lab, run-process), grading (check, hint, progress, prove),
maintenance (starter, reset, jump), the tour (demo, loadtest, locust) and
the maintainers' `dev` group (prove, starter, bench, chaos, screenshots).
"""

from __future__ import annotations

import click

from ..errors import LabError, StackError
from ..manifest import ManifestError
from ..room import cli as room_commands
from ..starter import RegionError
from . import dev_commands, grading_commands, lab_commands, maintenance_commands, stack_commands, tour_commands

# Mistakes a learner can make or meet: one line on stderr, exit 2, never a traceback.
FRIENDLY_ERRORS = (LabError, StackError, RegionError, ManifestError)


class QueueLabsGroup(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except FRIENDLY_ERRORS as exc:
            click.echo(f"queuelabs: {exc}", err=True)
            ctx.exit(2)
        except KeyboardInterrupt:
            ctx.exit(130)


@click.group(cls=QueueLabsGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Queue Labs: the stack, the labs and the grader."""


for module in (
    stack_commands,
    lab_commands,
    grading_commands,
    maintenance_commands,
    tour_commands,
    room_commands,
    dev_commands,
):
    for command in module.COMMANDS:
        main.add_command(command)
