"""Running the variants and measuring them, in rounds, so that both see the same machine.

On a shared machine the load from other programs drifts by the minute. So
the raw publish rate and each variant's flood are measured close together,
round after round (the variants' order alternating), and every ratio is
taken within one round; the report gives the median over the rounds.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from .. import faults
from ..isolation import purge_queues
from ..processes import ManagedProcess, free_port
from ..settings import LOG_DIR
from ..waiting import wait_until
from .load import BODY, CHEAP, PATIENCE_AFTER_THAW, SUBMIT, Flood, frozen_clock, probe_cheap_route

IDLE_SECONDS = 2.0
LOAD_SECONDS = 6.0
# RabbitMQ frozen: first until the API stops accepting submissions (no 202 for QUIET_SECONDS; the
# reference at once, the naive variant once its socket buffers hold all they can, at most
# FILL_LIMIT), then FREEZE_SECONDS of the clocks measured, then the thaw.
FREEZE_SECONDS = 6.0
QUIET_SECONDS = 2.0
FILL_LIMIT = 90.0
# Flat out: every connection submits again as soon as it is answered. 16 keep the API busy
# (32 gave one process the same rate on 2 cores: past that point more clients only wait
# longer, for every route, as in any saturated server). `make bench CONNECTIONS=32` to see it.
FLOOD_CONNECTIONS = 16
FROZEN_CONNECTIONS = 8
RAW_SECONDS = 2.0


@dataclass
class Variant:
    name: str
    command: list[str]
    env: dict[str, str]
    api: ManagedProcess | None = None
    # Seconds per probe of the cheap route, one list per round: idle, under the flood, RabbitMQ frozen.
    idle: list[list[float]] = field(default_factory=list)
    loaded: list[list[float]] = field(default_factory=list)
    frozen: list[list[float]] = field(default_factory=list)
    # RabbitMQ frozen, per round: each clocked submission's (seconds, status, answered before the thaw);
    # the 202s the flood got once RabbitMQ froze, and the seconds until the last of them.
    frozen_submits: list[list[tuple[float, str, bool]]] = field(default_factory=list)
    fill_accepted: list[int] = field(default_factory=list)
    fill_seconds: list[float] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)  # accepted submits per second, per round
    raw_shares: list[float] = field(default_factory=list)  # rate / raw publish rate, per round
    cpu_ms: list[float] = field(default_factory=list)  # API CPU per accepted submit, per round
    broker_cpu_ms: list[float] = field(default_factory=list)  # RabbitMQ's CPU per accepted submit, per round
    frozen_answers: dict[str, int] = field(default_factory=dict)  # the frozen flood's, every round's added up
    lines: int = 0  # lines of Python the variant runs (its app package, or the naive file)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api.port}"

    @property
    def rate(self) -> float:
        return statistics.median(self.rates)


def start_api(variant: Variant, processes: int, code_dir: Path) -> None:
    """The variant under uvicorn, with `processes` worker processes (--workers), on a free port."""
    port = free_port()
    argv = [*variant.command, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    if processes > 1:
        argv += ["--workers", str(processes)]
    slug = variant.name.split()[0].lower()
    proc = ManagedProcess(f"bench-{slug}", argv, cwd=code_dir, env=variant.env, log_path=LOG_DIR / f"bench-{slug}.log")
    proc.port = port
    proc.start()
    variant.api = proc  # set before waiting: the caller stops it, also when it never becomes ready
    proc.wait_ready(url=f"http://127.0.0.1:{port}{CHEAP}", timeout=60)
    with httpx.Client(base_url=variant.url, timeout=10) as http:  # warm up every process: connections, caches
        for _ in range(20 * processes):
            http.post(SUBMIT, json=BODY)
            http.get(CHEAP)


def empty_queues(queues: tuple[str, ...]) -> None:
    """Purge the queues, patiently: just after a thaw RabbitMQ takes in what the naive variant's
    socket buffers held, and its management API may miss a 5 s time-out."""

    def purged() -> bool:
        try:
            purge_queues(queues)
        except httpx.HTTPError:
            return False
        return True

    wait_until(purged, timeout=120, interval=1.0, what="RabbitMQ to purge the benchmark's queues")


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and of every process it started (uvicorn --workers, RabbitMQ's helpers)."""
    parent = psutil.Process(pid)
    return sum(sum(p.cpu_times()[:2]) for p in (parent, *parent.children(recursive=True)))


def raw_publish_rate(code_dir: Path, env: dict[str, str], *, confirmed: bool = False) -> float:
    """Tasks per second one process publishes with apply_async in a loop, doing nothing else.

    confirmed: with Celery's `confirm_publish`, each apply_async waits for RabbitMQ's confirm of
    its own message, as a safe API must (the reference waits once per batch instead)."""
    confirm = "task.app.conf.broker_transport_options = {'confirm_publish': True}\n" if confirmed else ""
    script = (
        "import time\n"
        "from app.tasks import process_report as task\n"
        f"{confirm}"
        "for _ in range(50): task.apply_async(kwargs={'data': 'bench', 'iterations': 1})\n"
        "count, start = 0, time.perf_counter()\n"
        f"while time.perf_counter() - start < {RAW_SECONDS}:\n"
        "    task.apply_async(kwargs={'data': 'bench', 'iterations': 1}); count += 1\n"
        "print(count / (time.perf_counter() - start))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=code_dir, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the raw publish loop failed: {done.stderr.strip().splitlines()[-1:]}")
    return float(done.stdout.strip().splitlines()[-1])


def flood_round(variant: Variant, raw: float, connections: int, queues: tuple[str, ...]) -> None:
    """Idle probes, then probes under a flood of submissions; the round's figures appended."""
    variant.idle.append(probe_cheap_route(variant.url, IDLE_SECONDS))
    broker = faults.service_pid("rabbitmq")
    cpu_before, broker_before = cpu_seconds(variant.api.pid), cpu_seconds(broker)
    with Flood(variant.url, connections, LOAD_SECONDS) as flood:
        time.sleep(0.5)  # the flood is running
        variant.loaded.append(probe_cheap_route(variant.url, LOAD_SECONDS - 1.0))
    accepted = flood.counts.get("202", 0)
    variant.rates.append(accepted / LOAD_SECONDS)
    variant.raw_shares.append(accepted / LOAD_SECONDS / raw)
    variant.cpu_ms.append((cpu_seconds(variant.api.pid) - cpu_before) * 1000 / max(accepted, 1))
    variant.broker_cpu_ms.append((cpu_seconds(broker) - broker_before) * 1000 / max(accepted, 1))
    empty_queues(queues)  # no worker runs: the next round starts with empty queues


def frozen_broker(variant: Variant, queues: tuple[str, ...]) -> None:
    """RabbitMQ stopped by pid (SIGSTOP) under a lighter flood of submissions, until the API stops
    accepting them; then the cheap route and single submissions on a clock, then the thaw.

    Waiting until the API stops accepting makes every variant's window alike: the naive variant
    answers 202 to messages that only reach its socket buffers (about 2,000 of them), and hangs
    once those are full; how many it pushes in a given time depends on how fast the machine lets it."""
    rabbitmq = faults.service_pid("rabbitmq")
    flood_seconds = FILL_LIMIT + FREEZE_SECONDS + PATIENCE_AFTER_THAW
    with Flood(variant.url, FROZEN_CONNECTIONS, flood_seconds, timeout=flood_seconds) as flood:
        time.sleep(0.3)
        faults.freeze(rabbitmq)
        try:
            frozen_at, before = time.monotonic(), flood.accepted

            def last_accepted() -> float:
                return max(flood.last_accepted, frozen_at)

            while time.monotonic() - last_accepted() < QUIET_SECONDS and time.monotonic() - frozen_at < FILL_LIMIT:
                time.sleep(0.05)
            variant.fill_accepted.append(flood.accepted - before)
            variant.fill_seconds.append(last_accepted() - frozen_at)

            def thaw() -> None:
                flood.stop()
                faults.thaw(rabbitmq)

            probes, submissions = frozen_clock(variant.url, FREEZE_SECONDS, thaw)
        finally:
            faults.thaw(rabbitmq)
    variant.frozen.append(probes)
    variant.frozen_submits.append(submissions)
    for status, count in flood.counts.items():
        variant.frozen_answers[status] = variant.frozen_answers.get(status, 0) + count
    with httpx.Client(base_url=variant.url, timeout=10) as http:  # accepted again, so the next one starts clean

        def accepted() -> bool:
            try:
                return http.post(SUBMIT, json=BODY).status_code == 202
            except httpx.HTTPError:
                return False

        wait_until(accepted, timeout=60, interval=0.5, what=f"{variant.name} to accept a submission after the thaw")
    empty_queues(queues)


def run_rounds(
    variants: list[Variant], *, rounds: int, connections: int, code_dir: Path, env: dict[str, str], queues, progress
) -> dict[str, list[float]]:
    """Every variant, `rounds` times: flooded, then with the broker frozen.

    Returns the raw publish rates of each round: {"unconfirmed": [...], "confirmed": [...]}."""
    raws: dict[str, list[float]] = {"unconfirmed": [], "confirmed": []}
    for number in range(1, rounds + 1):
        progress(f"round {number}/{rounds}: raw apply_async loops ({RAW_SECONDS:g} s each), then each API flooded")
        raws["confirmed"].append(raw_publish_rate(code_dir, env, confirmed=True))
        raws["unconfirmed"].append(raw_publish_rate(code_dir, env))
        empty_queues(queues)
        for variant in variants if number % 2 else variants[::-1]:
            flood_round(variant, raws["unconfirmed"][-1], connections, queues)
        progress(
            f"round {number}/{rounds}: RabbitMQ frozen under each API in turn, until it stops accepting "
            f"submissions, then {FREEZE_SECONDS:g} s"
        )
        for variant in variants if number % 2 else variants[::-1]:
            frozen_broker(variant, queues)
    return raws
