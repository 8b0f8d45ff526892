"""Run every row against a lab's reference and print the table (`make chaos LAB=04`)."""

from __future__ import annotations

import sys

from queuelabs import faults, stack
from queuelabs.labs import Lab, find_lab

from .counting import run_row
from .rows import FIXED_IN_LAB_04, rows
from .system import HEADER, System


def check_servers(lab: Lab) -> None:
    if "cluster" in lab.needs:
        from queuelabs.cluster.clients import down

        if problem := down():
            sys.exit(f"chaos: {problem}")
        return
    for name in lab.needs:
        try:
            faults.service_pid(name)
        except AssertionError as exc:  # not running, or not ours to signal
            sys.exit(f"chaos: {exc} (start it with: make up)")


def phases(lab: Lab) -> list[tuple[System, list]]:
    """(the system, its rows) in turn: one reference for most labs; lab 05's, then its classic-queue copy."""
    if "cluster" not in lab.needs:
        return [(System(lab), rows)]
    from . import cluster_rows

    return cluster_rows.phases(lab)


def expected(lab: Lab, title: str) -> str | None:
    """Why a row's loss or repeat is what the lab teaches (its lesson names it), or None."""
    if lab.id < "04" and title in FIXED_IN_LAB_04:
        return f"loses or repeats work in lab {lab.id}, as its lesson says; lab 04 fixes it"
    if "cluster" in lab.needs:
        from .cluster_rows import SHOWS_LOSS

        return SHOWS_LOSS.get(title)
    return None


def chosen(title: str, only: str | None) -> bool:
    """Whether a row runs: all do without `only`; else those whose title contains one of its
    comma-separated parts, in any case (`--row "partition,MongoDB kill"`)."""
    return not only or any(part.strip().lower() in title.lower() for part in only.split(",") if part.strip())


def partition_row(lab: Lab, only: str | None, table: list, not_run: list) -> None:
    """Lab 05's partition row, on a cluster of its own whose nodes are hosts of their own (root only)."""
    from . import partition

    if "cluster" not in lab.needs or not chosen(partition.TITLE, only):
        return
    if reason := partition.not_possible():
        not_run.append(f"NOT RUN: '{partition.TITLE}': {reason}; run make chaos LAB={lab.id} as root")
        print(f"[chaos] {not_run[-1]}", flush=True)
        return
    line = partition.run_in_namespaces(lab.id)
    if line is None:
        not_run.append(f"FAILED TO RUN: '{partition.TITLE}': its output above says why")
    else:
        table.append(line)


def run(lab_id: str, only: str | None = None) -> int:
    """Every row, or only those `only` picks (`chosen`)."""
    lab = find_lab(lab_id)
    table, not_run, checked = [], [], False
    for system, rows_of in phases(lab):
        picked = [(title, row) for title, row in rows_of(system) if chosen(title, only)]
        if not picked:
            continue
        if not checked:  # the servers these rows run on (the partition row starts its own)
            check_servers(lab)
            checked = True
        try:
            system.up()
            for title, row in picked:
                try:
                    table.append(run_row(system, title, row))
                finally:
                    while system.after_row:  # a node killed for the row comes back before the next one
                        system.after_row.pop()()
        finally:
            system.down()
    partition_row(lab, only, table, not_run)
    where = "make cluster" if "cluster" in lab.needs else "native stack"
    print(f"\nLab {lab.id} ({lab.title}), reference solution, {where}:\n")
    print("| " + " | ".join(HEADER) + " |")
    print("|" + "|".join("---" for _ in HEADER) + "|")
    for line in table:
        print("| " + " | ".join(str(cell) for cell in line) + " |")
    faulty = [line for line in table if line[4] or line[5] != "0" or line[6]]
    taught = [line for line in faulty if expected(lab, line[0])]
    for line in taught:
        print(f"expected: '{line[0]}' {expected(lab, line[0])}")
    bad = [line for line in faulty if line not in taught]
    for line in bad:
        print(f"NOT EXPECTED: '{line[0]}' lost, left unfinished or repeated work: read the row's log above")
    for line in not_run:  # never counted as passed
        print(line)
    return 1 if bad or any(line.startswith("FAILED") for line in not_run) else 0


def main(lab_id: str, only: str | None = None) -> int:
    if stack.mode() != "native":
        sys.exit("chaos: the fault suite needs the native stack (it signals the servers by pid)")
    return run(lab_id, only)
