"""One row of a chaos table: run its fault while tasks flow, then count what became of every task."""

from __future__ import annotations

from collections import Counter

from .system import ENDED, System, refused_seconds


def run_row(system: System, title: str, row) -> tuple:
    system.reset_row()
    print(f"[chaos] lab {system.lab.id}: {title} ...", flush=True)
    ids, orders = row(system)
    if system.procs["worker"].proc.poll() is not None:  # a worker that died with the broker
        system.start_worker()
    settled = system.settle(ids)
    states = settled.states
    dead = system.dead_letters() & set(ids)
    succeeded = {t for t, s in states.items() if s == "SUCCESS"}
    dup, unstored = system.effects(ids, succeeded)
    dup += sum((n - 1) * count for n, count in orders.items() if n > 1)
    if unstored:  # SUCCESS, but its effect is gone: lost all the same
        print(f"[chaos]   {len(unstored)} task(s) ended SUCCESS but their stored result is missing", flush=True)
    # Not ended while work was still queued: only slow. Not ended once the queues had been
    # empty a while, or FAILURE without a dead letter: lost.
    open_ids = {t for t, s in states.items() if s not in ENDED} - dead
    unfinished = len(open_ids) if settled.work_left else 0
    lost = len(ids) - len(succeeded) - len(dead) - unfinished + len(unstored)
    later = f"{unfinished} in {settled.waited:.0f} s" if unfinished else "0"
    print(f"[chaos]   final states after {settled.waited:.0f} s: {dict(Counter(states.values()))}", flush=True)
    for reason, count in system.refusals.most_common(3):
        print(f"[chaos]   refused {count} time(s): {reason}", flush=True)
    refused = f"{refused_seconds(system.answers):.1f}"
    return (title, len(ids), len(succeeded) - len(unstored), len(dead), lost, later, dup, refused)
