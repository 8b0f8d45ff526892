"""Nginx, natively: Debian's package, run by the project itself (never the system service).

The project writes its own main configuration (pid file, logs and temporary
folders under the run folder, `daemon off;` so the process it starts is the
master it later stops by pid) around the one template compose uses too
(scale.conf.template), and listens on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import LabError
from ..native import apt_install
from ..settings import REPO_ROOT

TEMPLATE = Path(__file__).with_name("scale.conf.template")
# Debian puts nginx in /usr/sbin, which is not on every user's PATH.
CANDIDATES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx")


@dataclass(frozen=True)
class NginxSetup:
    """What one nginx in front of a lab's replicas needs to know."""

    lab_id: str
    listen_port: int
    upstream_ports: tuple[int, ...]
    rate_per_second: int
    burst: int
    folder: Path  # its configuration, pid file and temporary files
    log_dir: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listen_port}"


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((path for path in CANDIDATES if os.access(path, os.X_OK)), None)


def ensure_nginx() -> str:
    """The nginx binary; Debian's `nginx` package is installed when missing (like RabbitMQ and Redis)."""
    if binary := nginx_binary():
        return binary
    apt_install(["nginx"], then="run `make scale` again")
    if binary := nginx_binary():
        return binary
    raise LabError("apt-get installed nginx but no nginx binary was found: run `sudo apt-get install nginx`")


def fill(template: str, values: dict[str, str]) -> str:
    """Replace each ${NAME} (an unknown name is an error); nginx's own $variables stay as they are."""

    def value(match: re.Match) -> str:
        if match[1] not in values:
            raise LabError(f"{TEMPLATE.name} uses ${{{match[1]}}}, which nothing sets")
        return values[match[1]]

    return re.sub(r"\$\{(\w+)\}", value, template)


def server_block(setup: NginxSetup) -> str:
    servers = "\n".join(f"    server 127.0.0.1:{port};" for port in setup.upstream_ports)
    return fill(
        TEMPLATE.read_text(),
        {
            "UPSTREAM_SERVERS": servers,
            "LISTEN": f"127.0.0.1:{setup.listen_port}",
            "RATE_PER_SECOND": str(setup.rate_per_second),
            "BURST": str(setup.burst),
            "LAB": setup.lab_id,
            "ACCESS_LOG": str(setup.log_dir / "scale-nginx-access.log"),
        },
    )


def _worker_user() -> str:
    """Run as root, nginx's workers switch to `user`: the repository's owner, who can read and write its run folder."""
    return pwd.getpwuid(REPO_ROOT.stat().st_uid).pw_name


def main_config(setup: NginxSetup) -> str:
    folder, logs = setup.folder, setup.log_dir
    temp = {kind: folder / "temp" / kind for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    user = f"user {_worker_user()};\n" if os.geteuid() == 0 else ""
    return (
        "# Written by queuelabs/scale/nginx.py for `make scale`: do not edit, it is rewritten at each start.\n"
        f"{user}"
        "daemon off;  # the process the project starts is the master, stopped by its pid\n"
        "worker_processes 1;  # one event loop handles thousands of connections; the cores go to the APIs\n"
        f"pid {folder / 'nginx.pid'};\n"
        f"error_log {logs / 'scale-nginx-error.log'} warn;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        + "".join(f"    {kind}_temp_path {path};\n" for kind, path in temp.items())
        + f"    include {folder / 'scale.conf'};  # the access log and its format too\n"
        "}\n"
    )


def write_config(setup: NginxSetup) -> list[str]:
    """Write the configuration, check it with `nginx -t`, and return the argv that runs it."""
    binary = ensure_nginx()
    setup.folder.mkdir(parents=True, exist_ok=True)
    setup.log_dir.mkdir(parents=True, exist_ok=True)
    (setup.folder / "temp").mkdir(exist_ok=True)
    (setup.folder / "scale.conf").write_text(server_block(setup))
    conf = setup.folder / "nginx.conf"
    conf.write_text(main_config(setup))
    # -p: relative paths under our folder; -e: the start-up error log too (not /var/log/nginx).
    argv = [binary, "-p", str(setup.folder), "-c", str(conf), "-e", str(setup.log_dir / "scale-nginx-error.log")]
    check = subprocess.run([*argv, "-t", "-q"], capture_output=True, text=True)
    if check.returncode != 0:
        problem = next((line for line in check.stderr.splitlines() if "[emerg]" in line), check.stderr.strip())
        raise LabError(f"nginx refused its configuration: {problem}")
    return argv
