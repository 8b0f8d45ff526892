"""The demo's priority part: why high overtook low, and a batch to watch a queue fill.

Kept apart from demo.py so the tour stays short to read.
"""

from __future__ import annotations

import random
import time

import httpx
from rich.console import Console

from .isolation import rabbitmq_api
from .labs import find_lab
from .settings import HOST, RABBITMQ_MANAGEMENT_PORT

console = Console()
QUEUE = "reports"  # lab 02's priority queue (x-max-priority), where POST /api/async/process sends work
WATCH_SECONDS = 300.0


def overtakes(finished: list[str]) -> list[tuple[str, str]]:
    """(high, low) pairs where a high task submitted after a low one finished before it.

    `finished` is the finishing order of labels like "low #3" (# = submission order)."""
    number = {label: int(label.split("#")[1]) for label in finished}
    position = {label: i for i, label in enumerate(finished)}
    return [
        (high, low)
        for high in finished
        if high.startswith("high")
        for low in finished
        if low.startswith("low") and number[low] < number[high] and position[high] < position[low]
    ]


def why(finished: list[str]) -> str:
    """One sentence on the finishing order."""
    pairs = overtakes(finished)
    if not pairs:
        return (
            "[yellow]No high task overtook a low one.[/] With two free slots and few tasks nothing waits; if tasks "
            "did wait, check the queue's x-max-priority and the worker's prefetch multiplier (lab 02, exercise 2.1)."
        )
    highs = sorted({high for high, _ in pairs}, key=lambda label: int(label.split("#")[1]))
    lows = sorted({low for _, low in pairs}, key=lambda label: int(label.split("#")[1]))
    return (
        f"[bold]{' and '.join(highs)}, submitted last, finished before {' and '.join(lows)}[/]: the worker's 2 slots "
        "were busy, and with a prefetch multiplier of 1 it holds no more messages than it runs, so the others "
        f"waited in RabbitMQ, where `{QUEUE}` is a priority queue (x-max-priority): each free slot gets the "
        "highest priority waiting."
    )


def _depth() -> tuple[int, int] | None:
    """(ready, unacked) of the deepest `reports` queue in any vhost; None when the management API is silent."""
    try:
        queues = rabbitmq_api(
            "GET", "/queues", params={"columns": "name,vhost,messages_ready,messages_unacknowledged"}
        ).json()
        mine = [q for q in queues if q.get("name") == QUEUE]
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    if not mine:
        return None
    deepest = max(mine, key=lambda q: q.get("messages_ready", 0))
    return deepest.get("messages_ready", 0), deepest.get("messages_unacknowledged", 0)


def watch_a_batch(base: str, size: int) -> None:
    """Submit `size` small tasks at once, then show the queue draining, one line."""
    console.print(f"\n[bold]A batch of {size} small tasks[/] (1 step each, random priority). Open now:")
    console.print(
        f"  RabbitMQ  http://{HOST}:{RABBITMQ_MANAGEMENT_PORT}/#/queues  (guest / guest): queue `{QUEUE}`, "
        "Ready climbs, then drains two at a time (vhost lab02-reference for the reference solution)"
    )
    console.print(
        f"  Flower    {find_lab('02').url('solution', 'flower')}/broker : the same queue's depth; Tasks tab: each one"
    )
    started = time.perf_counter()
    with httpx.Client(base_url=base, timeout=10) as client:
        for n in range(size):
            body = {"data": f"batch {n}", "iterations": 1, "priority": random.choice(("low", "normal", "high"))}
            client.post("/api/async/process", json=body).raise_for_status()
    console.print(f"  {size} tasks accepted in {time.perf_counter() - started:.1f} s")
    deadline = time.monotonic() + WATCH_SECONDS
    try:
        with console.status("") as line:
            while time.monotonic() < deadline:
                depth = _depth()
                if depth is None:
                    console.print("  (RabbitMQ's management API does not answer: watch the Queues tab instead)")
                    return
                ready, unacked = depth
                line.update(f"queue {QUEUE}: {ready} ready, {unacked} being worked on   (Ctrl+C stops watching)")
                if ready == 0 and unacked == 0:
                    break
                time.sleep(1)
    except KeyboardInterrupt:
        console.print("  stopped watching; the worker keeps draining the queue")
        return
    console.print(f"  queue {QUEUE} drained after {time.perf_counter() - started:.0f} s")
