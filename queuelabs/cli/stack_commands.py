"""The stack: up, down, status, logs, compose."""

from __future__ import annotations

import os
import subprocess

import click

from .. import cluster, stack, warm
from ..errors import StackError
from ..labs import CODE_CHOICES, all_labs
from ..process_status import status_line
from ..processes import read_pid, tracked_names
from ..room.cli import status_lines as room_status_lines
from ..runner import stop_process
from ..scale.replicas import status_lines as scale_status_lines
from ..settings import LOG_DIR, REPO_ROOT, SERVICES


@click.command()
@click.argument("services", nargs=-1, type=click.Choice(list(SERVICES)))
def up(services: tuple[str, ...]) -> None:
    """Start RabbitMQ, Redis and MongoDB (docker compose, or natively)."""
    stack.up(list(services) or None)
    click.echo()
    print_status()


@click.command()
def down() -> None:
    """Stop everything the project started (lab processes, then the servers)."""
    for name in tracked_names():
        if name.startswith(("lab", "room-api", "room-worker")) and stop_process(name):
            click.echo(f"[stack] {name} stopped")
    stack.down()
    cluster.down()  # says nothing when `make cluster` runs nothing


@click.command("cluster")
@click.option("--stop", is_flag=True, help="stop the cluster instead")
def cluster_command(stop: bool) -> None:
    """Lab 05's ground: RabbitMQ x3, a MongoDB replica set of 3, Redis with a replica and 3 Sentinels."""
    if stop:
        if cluster.answering_elsewhere():
            click.echo(
                "[cluster] the cluster that answers is docker compose's: `docker compose --profile cluster down`"
            )
        # make check's API and worker kept warm hold connections to these nodes: after a restart their
        # first publish would meet a dropped connection (a 503), so the next check starts them afresh.
        if stopped := warm.stop_all():
            click.echo(f"[cluster] stopped {stopped} process(es) kept warm by make check")
        cluster.down()
        return
    cluster.up()
    click.echo()
    print_status()


@click.command()
def status() -> None:
    """Each service and lab process: answering, running or exited, and the URLs."""
    print_status()


def print_status() -> None:
    click.echo(f"Stack ({stack.mode()} mode):")
    for title, address, state, owner in stack.status_rows():
        click.echo(f"  {title:<9} {state:<10} {address:<48} {owner}")
    labs = [n for n in tracked_names() if n.startswith("lab")]
    if labs:
        click.echo("Lab processes (`make labNN`, `make scale`):")
        for name in labs:
            click.echo(status_line(name))
    for line in [*scale_status_lines(), *room_status_lines()]:
        click.echo(line)
    if cluster.running() or cluster.answering_elsewhere():
        started_by = "`make cluster`, STOP=1 stops it" if cluster.running() else "docker compose --profile cluster"
        click.echo(f"Cluster ({started_by}):")
        for title, address, state in cluster.status_rows():
            click.echo(f"  {title:<27} {address:<42} {state}")
    click.echo("URLs:")
    click.echo("  RabbitMQ management  http://127.0.0.1:15672 (guest / guest)")
    for line in running_lab_urls():
        click.echo(line)


def running_lab_urls() -> list[str]:
    """The pages of the labs that run now (yours and the references'), nothing for a lab that does not."""
    lines = []
    for lab in all_labs():
        for code in CODE_CHOICES:
            names = lab.process_names_for(code)
            whose = "reference" if code == "solution" else "your code"
            for process in (lab.api_process, "flower"):
                if process in names and read_pid(names[process]):
                    what = "API docs" if process == lab.api_process else "Flower"
                    page = f"{lab.url(code, process)}{'/docs' if process == lab.api_process else ''}"
                    lines.append(f"  lab {lab.id} {what:<8} {page:<28} ({whose})")
    return lines or ["  no lab runs: `make lab02` starts yours, `make lab02 CODE=solution` the reference"]


@click.command()
@click.argument("name", required=False)
@click.option("-f", "--follow", is_flag=True, help="keep printing new lines")
@click.option("-n", "--lines", default=20, show_default=True)
def logs(name: str | None, follow: bool, lines: int) -> None:
    """The last lines of every log in .run/logs (NAME for one)."""
    files = sorted(LOG_DIR.glob("*.log")) if LOG_DIR.exists() else []
    if name:
        files = [f for f in files if f.stem.startswith(name)]
    if not files:
        raise StackError("no logs yet: they appear in .run/logs/ once `make up` or `make labNN` started something")
    if follow:
        os.execvp("tail", ["tail", "-n", str(lines), "-F", *map(str, files)])
    for path in files:
        click.echo(f"==> {path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path} <==")
        click.echo(subprocess.run(["tail", "-n", str(lines), str(path)], capture_output=True, text=True).stdout)


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []})
@click.argument("compose_args", nargs=-1, type=click.UNPROCESSED)
def compose(compose_args: tuple[str, ...]) -> None:
    """docker compose, with Docker's plugin or the bundled Compose CLI."""
    raise SystemExit(subprocess.run([*stack.compose_command(), *compose_args], cwd=REPO_ROOT).returncode)


@click.command()
def doctor() -> None:
    """Can this machine run the labs, offline? One PASS/FAIL line per requirement, then a summary."""
    from ..doctor import run

    raise SystemExit(run(say=click.echo))


COMMANDS = [up, down, status, cluster_command, logs, compose, doctor]
