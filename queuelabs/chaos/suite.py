"""Run every row against a lab's reference and print the table (`make chaos LAB=04`)."""

from __future__ import annotations

import sys
from collections import Counter

from queuelabs import faults, stack
from queuelabs.labs import find_lab

from .rows import FIXED_IN_LAB_04, rows
from .system import ENDED, HEADER, System


def run(lab_id: str) -> int:
    lab = find_lab(lab_id)
    for name in lab.needs:
        try:
            faults.service_pid(name)
        except AssertionError as exc:  # not running, or not ours to signal
            sys.exit(f"chaos: {exc} (start it with: make up)")
    system = System(lab)
    table = []
    try:
        system.up()
        for title, row in rows(system):
            system.reset_row()
            print(f"[chaos] lab {lab.id}: {title} ...", flush=True)
            ids, orders = row(system)
            if system.procs["worker"].proc.poll() is not None:  # a worker that died with the broker
                system.start_worker()
            settled = system.settle(ids)
            states = settled.states
            dead = system.dead_letters() & set(ids)
            succeeded = sum(s == "SUCCESS" for s in states.values())
            dup = system.effects(ids, succeeded) + sum((n - 1) * count for n, count in orders.items() if n > 1)
            # Not ended while work was still queued: only slow. Not ended once the queues had been
            # empty a while, or FAILURE without a dead letter: lost.
            open_ids = {t for t, s in states.items() if s not in ENDED} - dead
            unfinished = len(open_ids) if settled.work_left else 0
            lost = len(ids) - succeeded - len(dead) - unfinished
            later = f"{unfinished} in {settled.waited:.0f} s" if unfinished else "0"
            table.append((title, len(ids), succeeded, len(dead), lost, later, dup))
            print(f"[chaos]   final states after {settled.waited:.0f} s: {dict(Counter(states.values()))}", flush=True)
    finally:
        system.down()
    print(f"\nLab {lab.id} ({lab.title}), reference solution, native stack:\n")
    print("| " + " | ".join(HEADER) + " |")
    print("|" + "|".join("---" for _ in HEADER) + "|")
    for line in table:
        print("| " + " | ".join(str(cell) for cell in line) + " |")
    faulty = [line for line in table if line[4] or line[5] != "0" or line[6]]
    taught = [line for line in faulty if lab.id < "04" and line[0] in FIXED_IN_LAB_04]
    for line in taught:
        print(f"expected: '{line[0]}' loses or repeats work in lab {lab.id}, as its lesson says; lab 04 fixes it")
    bad = [line for line in faulty if line not in taught]
    for line in bad:
        print(f"NOT EXPECTED: '{line[0]}' lost, left unfinished or repeated work: read the row's log above")
    return 1 if bad else 0


def main(lab_id: str) -> int:
    if stack.mode() != "native":
        sys.exit("chaos: the fault suite needs the native stack (it signals the servers by pid)")
    return run(lab_id)
