"""What a lab process is doing, for `make status` and start-up errors: the code it runs, its
log's telling error (and where it is in your code), and what to do about a crash."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

from .errors import LabError
from .labs import find_lab
from .log_excerpts import first_error
from .processes import http_status, lost_its_child, pid_file, read_pid, tail
from .settings import LOG_DIR, REPO_ROOT


def code_of(name: str) -> str | None:
    """Which code (exercise / solution) a running process was started from."""
    return recorded(name, ".code") if read_pid(name) else None


def recorded(name: str, suffix: str) -> str | None:
    """What _launch wrote beside a process's pid file: its code (.code), the page `make status` asks (.url).
    Both outlive the process, so an exited one still says which code it ran."""
    path = pid_file(name).with_suffix(suffix)
    return path.read_text().strip() if path.exists() else None


def last_error(name: str, code_dir: Path | None = None) -> str:
    """The most telling line of a process's log: its last error, else its last line. When that
    error ends a traceback through your code (code_dir), where: `app/main.py:68  SyntaxError: ...`."""
    # 400 lines: an import error reached through Django's URL loading is a 70-line traceback,
    # and its "Traceback" line must be in view to say where the error is.
    lines = [line.rstrip() for line in tail(LOG_DIR / f"{name}.log", 400).splitlines() if line.strip()]
    for i in range(len(lines) - 1, -1, -1):
        if any(word in lines[i] for word in ("Error", "error:", "Exception", "PRECONDITION_FAILED", "in use")):
            error = lines[i].strip()
            return (code_dir and _where_in_your_code(lines[: i + 1], error, code_dir)) or error[:240]
    return lines[-1].strip()[:240] if lines else "(empty log)"


def _where_in_your_code(lines: list[str], error: str, code_dir: Path) -> str | None:
    starts = [i for i, line in enumerate(lines) if "Traceback (most recent call last)" in line]
    found = first_error("\n".join(lines[starts[-1] :]), code_dir, where=_shown) if starts else None
    return found if found and found.endswith(error[:200]) else None  # that traceback ends with this error


def _code_dir_of(name: str, code: str | None) -> Path | None:
    """The folder a lab process runs (`lab02-worker` started from exercise/), to say where an error is."""
    try:
        return find_lab(name[3:5]).code_dir(code) if code else None
    except LabError:  # not a lab's process, or a lab that is gone
        return None


def status_line(name: str) -> str:
    """`make status`'s row of a process: running (and from which code), crashed under its
    reloader (your code died, the reloader waits for a save), answering 500 (a web server whose
    app is broken, e.g. Django after a syntax error), or exited, with its log's reason."""
    pid = read_pid(name)
    if pid is None:  # where its error is in the code it ran
        return f"  {name:<16} EXITED    {last_error(name, _code_dir_of(name, recorded(name, '.code')))}"
    code = code_of(name)
    if lost_its_child(pid):
        error = last_error(name, _code_dir_of(name, code))
        return f"  {name:<16} CRASHED   {error}\n  {'':<16}           {crash_advice(name, error)}"
    url = recorded(name, ".url")
    answer = http_status(url, timeout=2) if url else None
    if answer is not None and answer >= 500:
        return (
            f"  {name:<16} BROKEN    answers HTTP {answer}: {last_error(name, _code_dir_of(name, code))}\n"
            f"  {'':<16}           fix your code and save (it reloads); log .run/logs/{name}.log"
        )
    shown = f"code {code}/" if code else ""  # nginx runs no lab code
    return f"  {name:<16} running   pid {pid:<8} {shown:<15} log .run/logs/{name}.log"


REDECLARED = re.compile(r"PRECONDITION_FAILED - inequivalent arg .* for queue '([^']+)' in vhost '([^']*)'")


def crash_advice(name: str, error: str) -> str:
    """What to do about a crashed process. A queue redeclared with other arguments is not fixed by
    saving: RabbitMQ keeps the arguments a queue was first declared with until it is deleted."""
    if found := REDECLARED.search(error):
        queue, vhost = (quote(part, safe="") for part in found.groups())
        return (
            f"RabbitMQ keeps a queue's first arguments: delete it (its waiting messages go with it): curl -u "
            f"guest:guest -X DELETE http://127.0.0.1:15672/api/queues/{vhost}/{queue}, then: make start NAME={name}"
        )
    return f"fix your code and save (it reloads), or: make start NAME={name}"


def _shown(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return path
