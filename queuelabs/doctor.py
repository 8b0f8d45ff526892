"""`make doctor`: can this machine run the labs today, offline? One PASS/FAIL line per requirement.

A learner runs it at the door. Each check says what it found, and on FAIL what to do; the last
line sums up. Nothing here downloads anything: the packages must already be in .venv.
"""

from __future__ import annotations

import platform
import shutil
import sys
import sysconfig
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from . import probes, stack
from .errors import StackError
from .labs import CODE_CHOICES, all_labs
from .processes import listener_of, port_open, read_pid
from .settings import LOCUST_PORT, REPO_ROOT, SERVICES

MIN_PYTHON = (3, 11)
MIN_FREE_BYTES = 2 * 1024**3  # data, logs and load-test reports of a day
# The groups `make setup` installs (pyproject.toml), besides the run-time dependencies.
GROUPS = ("native", "dev", "notebooks")


@dataclass(frozen=True)
class Finding:
    requirement: str
    ok: bool
    detail: str


def python_version() -> Finding:
    found = ".".join(map(str, sys.version_info[:3]))
    ok = sys.version_info[:2] >= MIN_PYTHON
    wanted = ".".join(map(str, MIN_PYTHON))
    return Finding("Python", ok, f"{found}" + ("" if ok else f": the labs need {wanted} or newer"))


def architecture() -> Finding:
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        return Finding("architecture", True, f"{machine}: the native mongod wheel runs here")
    return Finding(
        "architecture", False, f"{machine}: the native mongod wheel is x86-64 only; run the stack with Docker"
    )


def disk(path: Path = REPO_ROOT) -> Finding:
    free = shutil.disk_usage(path).free
    ok = free >= MIN_FREE_BYTES
    return Finding(
        "disk", ok, f"{free / 1024**3:.1f} GB free" + ("" if ok else f" (need {MIN_FREE_BYTES / 1024**3:.0f} GB)")
    )


def lab_ports() -> dict[int, str]:
    """Every port a lab (your code and the reference) or the tour uses -> what uses it."""
    ports = {LOCUST_PORT: "the Locust web UI"}
    for lab in all_labs():
        for code in CODE_CHOICES:
            for process, name in lab.process_names_for(code).items():
                if port := lab.port_of(process, code):
                    ports[port] = name
    return ports


def free_ports() -> Finding:
    """A port held by the project's own process is fine; any other program holding one is not."""
    taken = []
    for port, user in sorted(lab_ports().items()):
        if port_open(port) and not (read_pid(user) if user.startswith("lab") else False):
            taken.append(f"{port} ({user}'s) held by {listener_of(port)}")
    if taken:
        return Finding("free ports", False, "; ".join(taken) + ": stop what holds them")
    return Finding("free ports", True, f"{len(lab_ports())} lab ports free or used by the labs themselves")


def wanted_packages(pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[str]:
    """The distributions `make setup` installs for this machine (markers evaluated)."""
    project = tomllib.loads(pyproject.read_text())
    lines = [*project["project"]["dependencies"]]
    for group in GROUPS:
        lines += [line for line in project.get("dependency-groups", {}).get(group, []) if isinstance(line, str)]
    requirements = [Requirement(line) for line in lines]
    return sorted({canonicalize_name(r.name) for r in requirements if r.marker is None or r.marker.evaluate()})


def packages(site: Path | None = None) -> Finding:
    """Every package is installed (so the labs run offline): read from `site`, .venv's by default."""
    where = [str(site or sysconfig.get_paths()["purelib"])]
    present = {canonicalize_name(d.metadata["Name"]) for d in metadata.distributions(path=where) if d.metadata["Name"]}
    missing = [name for name in wanted_packages() if name not in present]
    if missing:
        return Finding("packages", False, f"missing {', '.join(missing)}: run `make setup` while online")
    return Finding("packages", True, f"{len(wanted_packages())} packages installed, nothing to download")


def service(name: str) -> Callable[[], Finding]:
    """The service answers, or starts (natively or with Docker) and then answers."""

    def check() -> Finding:
        title = SERVICES[name].title
        if probes.probe(name, timeout=2.0) is None:
            return Finding(title, True, f"answering on 127.0.0.1:{SERVICES[name].port}")
        try:
            stack.up([name])
        except (StackError, OSError) as exc:
            return Finding(title, False, f"does not start: {str(exc).splitlines()[0][:200]}")
        reason = probes.probe(name, timeout=5.0)
        if reason is not None:
            return Finding(title, False, f"started but does not answer ({reason}): see `make logs NAME={name}`")
        return Finding(title, True, f"started, answering on 127.0.0.1:{SERVICES[name].port}")

    return check


CHECKS: list[Callable[[], Finding]] = [
    python_version,
    architecture,
    disk,
    free_ports,
    packages,
    *(service(name) for name in SERVICES),
]


def run(checks: list[Callable[[], Finding]] = CHECKS, say: Callable[[str], None] = print) -> int:
    """Print one line per requirement and a summary; 0 when every requirement is met."""
    started = time.monotonic()
    failed = []
    for check in checks:
        finding = check()
        say(f"{'PASS' if finding.ok else 'FAIL'}  {finding.requirement:<13} {finding.detail}")
        if not finding.ok:
            failed.append(finding.requirement)
    took = time.monotonic() - started
    if failed:
        say(f"doctor: {len(failed)} of {len(checks)} requirements FAIL ({', '.join(failed)}) in {took:.0f} s")
        return 1
    say(f"doctor: all {len(checks)} requirements PASS in {took:.0f} s: this machine is ready for the labs")
    return 0
