"""A lab's processes: start them all (`make labNN`), or one process or service at a time."""

from __future__ import annotations

import subprocess

import click

from .. import native, probes, runner, stack
from ..errors import LabError
from ..labs import CODE_CHOICES, all_labs, find_lab
from ..processes import resolve
from ..settings import SERVICES

CODE_OPTION = click.option(
    "--code", default="exercise", show_default=True, help="exercise (yours) or solution (the reference)"
)


@click.command()
@click.argument("lab_id")
@CODE_OPTION
@click.option("--stop", is_flag=True, help="stop the lab's processes")
def lab(lab_id: str, code: str, stop: bool) -> None:
    """Start a lab's processes (API, worker...) in the background and wait until each is ready.
    Your code and the reference run side by side, each on its own ports and data (STOP stops both)."""
    the_lab = find_lab(lab_id)
    if stop:
        stopped = runner.stop_lab(the_lab)
        for name in stopped:
            click.echo(f"stopped {name}")
        if not stopped:
            click.echo(f"lab {the_lab.id}: nothing was running")
        return
    if code not in CODE_CHOICES:
        raise LabError(f"--code must be one of {', '.join(CODE_CHOICES)}, not {code!r}")
    docker = stack.mode() == "docker"
    if docker and "cluster" in the_lab.needs:  # no profile runs lab 05's processes: the cluster's servers only
        click.echo(
            f"Docker mode: lab {the_lab.id}'s processes run here, reloading on save, on `make cluster`'s "
            "servers (or the ones `docker compose --profile cluster up -d --wait` runs in containers)"
        )
    elif docker:
        profile = f"lab{the_lab.id}-reference" if code == "solution" else f"lab{the_lab.id}"  # docker-compose.yml's
        click.echo(
            f"Docker mode: the servers run in containers, lab {the_lab.id}'s processes here, reloading on save "
            f"(all in containers instead: docker compose --profile {profile} up -d --wait)"
        )
    runner.start_lab(the_lab, code)
    who = "the reference solution" if code == "solution" else "your code (it reloads when you save)"
    click.echo(
        f"\nLab {the_lab.id} is running {who} ({the_lab.code_dir(code).relative_to(the_lab.dir.parent.parent)}):"
    )
    click.echo(f"  API        {the_lab.url(code)}/docs")
    if "flower" in the_lab.processes:
        click.echo(f"  Flower     {the_lab.url(code, 'flower')}")
    corner = the_lab.corner(code)
    if "rabbitmq" in the_lab.needs:
        click.echo(f"  RabbitMQ   http://127.0.0.1:15672 (guest / guest), vhost {corner.vhost}")
    click.echo(f"  Data       MongoDB database {corner.mongodb_db}, Redis database {corner.redis_db}")
    click.echo(f"  Logs       make logs NAME={corner.prefix}      Stop: make lab{the_lab.id} STOP=1")


def _lab_process(name: str):
    """`lab02-worker` -> (lab 02, "worker", "exercise"); `lab02-ref-worker` -> (..., "solution")."""
    for candidate in all_labs():
        for code in CODE_CHOICES:
            for process, process_name in candidate.process_names_for(code).items():
                if process_name == name:
                    return candidate, process, code
    names = [*SERVICES, *(n for lab in all_labs() for n in lab.all_process_names)]
    raise LabError(f"there is no service or process {name!r} (choose from: {', '.join(names)})")


@click.command()
@click.argument("name")
def stop(name: str) -> None:
    """Stop one service (redis) or lab process (lab02-worker), for the lessons' failure experiments."""
    if name in SERVICES:
        if stack.mode() == "docker":
            raise SystemExit(stack.compose_run("stop", name))
        stopped = native.STOPPERS[name]()
        click.echo(f"{name}: {'stopped' if stopped else 'was not running from this project'}")
        return
    _lab_process(name)  # a clear error for a typo
    click.echo(f"{name}: {'stopped' if runner.stop_process(name) else 'was not running'}")


@click.command()
@click.argument("name")
@CODE_OPTION
def start(name: str, code: str) -> None:
    """Start one service (redis) or lab process (lab02-worker) again."""
    if name in SERVICES:
        stack.up([name])
        return
    the_lab, process, its_code = _lab_process(name)
    # lab02-ref-worker is always the reference; lab02-worker runs CODE (a path runs in your corner).
    runner.start_process(the_lab, process, "solution" if its_code == "solution" else code)


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@CODE_OPTION
def manage(args: tuple[str, ...], code: str) -> None:
    """Lab 03's `manage.py ARGS` with the lab's own database (the one `make lab03` uses)."""
    the_lab = find_lab("03")
    if code not in CODE_CHOICES:
        raise LabError(f"--code must be one of {', '.join(CODE_CHOICES)}, not {code!r}")
    if args[:1] not in ((), ("help",), ("--help",)) and (down := probes.services_down(["mongodb"])):
        # Django would print a 60-line ServerSelectionTimeoutError after 30 s; one line now instead.
        raise LabError(f"make manage needs lab 03's database: {down[0]}")
    env = runner.lab_env(the_lab, code)
    if args[:1] == ("createsuperuser",):
        # The migrations first, as `make lab03` applies them: a user created on a database never
        # migrated makes MongoDB create Django's collections by inserting, and every later migrate
        # then fails (CollectionInvalid: collection auth_permission already exists).
        runner.prepare(the_lab, code, env)
    argv = resolve(["python", "manage.py", *(args or ("help",))])
    done = subprocess.run(argv, cwd=the_lab.code_dir(code), env=env)
    raise SystemExit(done.returncode)


@click.command("run-process", hidden=True)
@click.argument("lab_id")
@click.argument("process")
def run_process(lab_id: str, process: str) -> None:
    """Run one declared process of a lab in the foreground (docker compose's entry point)."""
    runner.run_in_foreground(find_lab(lab_id), process)


@click.command()
@click.argument("lab_id", required=False)
@click.option("--api", default=3, show_default=True, help="API replicas behind nginx")
@click.option("--workers", default=3, show_default=True, help="worker processes")
@click.option("--rate", default=None, type=int, help="nginx's rate limit, requests/s per client (default 100)")
@click.option("--stop", "stop_", is_flag=True, help="stop nginx and every replica")
@click.option("--compare", is_flag=True, help="measure: the same Locust load on 1 and 3 APIs and 1 and 3 workers")
@click.option("--users", default=None, type=int, help="Locust users for --compare (default 60)")
def scale(
    lab_id: str | None, api: int, workers: int, rate: int | None, stop_: bool, compare: bool, users: int | None
) -> None:
    """Nginx on 127.0.0.1:8080 in front of N API replicas and N workers of a lab's reference."""
    from ..scale import compare as comparison
    from ..scale import replicas

    if stop_:
        click.echo("\n".join(f"stopped {name}" for name in replicas.stop()) or "make scale: nothing was running")
        return
    the_lab = find_lab(lab_id or "02")
    if compare:
        raise SystemExit(comparison.run(the_lab, rate=rate, users=users))
    setup = replicas.start(the_lab, api, workers, rate=rate or replicas.DEFAULT_RATE)
    click.echo(f"\nLab {the_lab.id}'s reference behind nginx: {setup.url}  (try: curl -i {setup.url}/health)")
    click.echo("\n".join(replicas.status_lines()[1:]))
    click.echo(f"  Logs: make logs NAME=lab{the_lab.id}    Stop: make scale STOP=1")


COMMANDS = [lab, stop, start, manage, run_process, scale]
