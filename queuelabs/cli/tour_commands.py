"""The tour: the demo, headless load tests and the Locust web UI."""

from __future__ import annotations

import contextlib
import functools

import click
import httpx

from .. import runner
from ..isolation import purge_queues
from ..labs import Lab, find_lab
from ..processes import http_status


@click.command()
@click.option("--batch", type=click.IntRange(0, 5000), default=0, help="then submit this many small tasks at once")
def demo(batch: int) -> None:
    """Bring everything up and show the finished system."""
    from ..demo import run_demo

    raise SystemExit(run_demo(batch=batch))


@contextlib.contextmanager
def lab_answering(lab: Lab, host: str | None):
    """Yields the base URL to load: the one given, else your code's API if it runs, else the
    reference's (started just for this run when it does not run yet)."""
    if host:
        yield host
        return
    for code in ("exercise", "solution"):
        if http_status(f"{lab.url(code)}/") is not None:
            yield lab.url(code)
            return
    click.echo(
        f"Nothing answers on {lab.url('exercise')} (your code) or {lab.url('solution')} (the reference): "
        f"starting lab {lab.id}'s reference for this run (run `make lab{lab.id}` first to load-test your own code)"
    )
    started = []
    try:
        started = runner.start_lab(lab, "solution")
        yield lab.url("solution")
    finally:
        for name in started:
            runner.stop_process(name)
        if started and lab.manifest.checkpoints.queues:
            # Tasks the load left queued would be run by the reference's next start and
            # skew its figures: this run made them, it drops them.
            with contextlib.suppress(httpx.HTTPError):
                purge_queues(lab.manifest.checkpoints.queues, vhost=lab.corner("solution").vhost)


@click.command()
@click.argument("lab_id")
@click.option("--users", type=int, default=None, help="simulated users (default: the lab's lab.toml)")
@click.option("--rate", type=int, default=None, help="users started per second")
@click.option("--seconds", type=int, default=None, help="how long the run lasts")
@click.option("--host", default=None, help="the API's base URL (default: the lab's port on 127.0.0.1)")
def loadtest(lab_id: str, users: int | None, rate: int | None, seconds: int | None, host: str | None) -> None:
    """A headless Locust run with CSV and HTML reports (LAB_ID 02,03: the same load on both, compared)."""
    from ..loadtest import run_comparison, run_loadtest

    if "," in lab_id:
        labs = [find_lab(one.strip()) for one in lab_id.split(",") if one.strip()]
        answering = functools.partial(lab_answering, host=None)
        raise SystemExit(run_comparison(labs, users=users, spawn_rate=rate, seconds=seconds, answering=answering))
    lab = find_lab(lab_id)
    with lab_answering(lab, host) as url:
        raise SystemExit(run_loadtest(lab, users=users, spawn_rate=rate, seconds=seconds, host=url))


@click.command()
@click.argument("lab_id")
@click.option("--host", default=None)
def locust(lab_id: str, host: str | None) -> None:
    """The Locust web UI on 127.0.0.1:8089."""
    from ..loadtest import open_web_ui

    lab = find_lab(lab_id)
    with lab_answering(lab, host) as url:
        raise SystemExit(open_web_ui(lab, url))


COMMANDS = [demo, loadtest, locust]
