"""`make doctor`: one PASS/FAIL line per requirement and a summary; a machine missing one
requirement is told which (a port taken by another program, a package missing from a copy
of the environment's package records: the real .venv is never touched)."""

import os
import shutil
import socket
import subprocess
import sysconfig

from queuelabs import doctor
from queuelabs.processes import port_open
from queuelabs.settings import REPO_ROOT


def test_doctor_passes_on_a_prepared_machine():
    done = subprocess.run(
        [str(REPO_ROOT / ".venv" / "bin" / "queuelabs"), "doctor"], capture_output=True, text=True, timeout=300
    )
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(lines) == len(doctor.CHECKS) + 1 and all(line.startswith("PASS  ") for line in lines[:-1]), lines
    assert lines[-1].startswith(f"doctor: all {len(doctor.CHECKS)} requirements PASS"), lines[-1]


def test_doctor_names_a_port_another_program_holds():
    port = next(port for port in sorted(doctor.lab_ports()) if not port_open(port))
    with socket.socket() as other_program:
        other_program.bind(("127.0.0.1", port))
        other_program.listen()
        said = []
        code = doctor.run([doctor.python_version, doctor.free_ports], say=said.append)
    assert code == 1
    assert said[0].startswith("PASS  Python")
    assert said[1].startswith("FAIL  free ports") and f"{port} (" in said[1] and f"(pid {os.getpid()})" in said[1]
    assert said[-1].startswith("doctor: 1 of 2 requirements FAIL (free ports)"), said[-1]


def test_doctor_names_a_missing_package(tmp_path):
    site = tmp_path / "site-packages"  # the environment's package records, one package gone
    site.mkdir()
    for record in os.scandir(sysconfig.get_paths()["purelib"]):
        if record.name.endswith(".dist-info") and not record.name.lower().startswith("locust-"):
            shutil.copytree(record.path, site / record.name)
    assert doctor.packages().ok, doctor.packages().detail  # the real environment has them all
    missing = doctor.packages(site)
    assert not missing.ok and "missing locust" in missing.detail and "make setup" in missing.detail, missing
