"""The first real error of the learner's code, in one line: where it was raised and what it said.

A checkpoint that reads `answered 500` knows only the status: the cause is in
the API's or the worker's log, as a traceback. This finds the first traceback
(or "coroutine ... was never awaited" warning) whose frames reach the graded
code, and returns its last frame there with the exception line, e.g.

    labs/02-fastapi-celery/exercise/app/api/routes/tasks.py:41  AttributeError: 'URL' object has no attribute 'encode'
"""

from __future__ import annotations

import re
from pathlib import Path

FRAME = re.compile(r'File "([^"]+)", line (\d+)')
# The line that ends a traceback: "ValueError: ...", "app.errors.Boom", "KeyboardInterrupt".
EXCEPTION = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Warning|Interrupt|Exit|Group)\b.*|[A-Za-z_][\w.]*)$")
NEVER_AWAITED = re.compile(r"^(/\S+\.py):(\d+): (RuntimeWarning: coroutine .* was never awaited)")
# Exception groups (anyio, Python 3.11) indent their tracebacks with "  | ".
GROUP_PREFIX = re.compile(r"^\s*\| ?")


def _inside(path: str, code_dir: Path) -> bool:
    try:
        Path(path).resolve().relative_to(code_dir)
        return True
    except ValueError:
        return False


def first_error(text: str, code_dir: Path, where=str, provoked: tuple[str, ...] = ()) -> str | None:
    """The first error of `text` (a log) raised in `code_dir`, as "file:line  Exception: message".

    An error whose line holds one of `provoked` is the checkpoint's own doing (a task it
    made fail on purpose): not the learner's, so it is passed over."""
    code_dir = code_dir.resolve()
    frame: tuple[str, str] | None = None  # the last frame in the graded code of the traceback being read
    in_traceback = False
    for raw in text.splitlines():
        if (match := NEVER_AWAITED.match(raw.strip())) and _inside(match.group(1), code_dir):
            return f"{where(match.group(1))}:{match.group(2)}  {match.group(3)}"
        line = GROUP_PREFIX.sub("", raw)
        if "Traceback (most recent call last)" in line:
            in_traceback = True
            continue
        if not in_traceback:
            continue
        if match := FRAME.search(line):
            if _inside(match.group(1), code_dir):
                frame = (match.group(1), match.group(2))
            continue
        if line.startswith((" ", "\t")) or not line.strip():
            continue  # the source line under a frame, or its ^^^^ markers
        if EXCEPTION.match(line.strip()):
            if frame is not None and not any(text in line for text in provoked):
                return f"{where(frame[0])}:{frame[1]}  {line.strip()[:200]}"
            frame, in_traceback = None, False  # not the learner's error: look for the next one
    return None


def first_error_in_traceback(excinfo, code_dir: Path, where=str) -> str | None:
    """The same, for an exception raised in the checkpoint's own process (the graded code imported there)."""
    code_dir = code_dir.resolve()
    frames = [entry for entry in excinfo.traceback if _inside(str(entry.path), code_dir)]
    if not frames:
        return None
    last = frames[-1]
    message = f"{excinfo.typename}: {excinfo.value}".splitlines()[0][:200]
    return f"{where(str(last.path))}:{last.lineno + 1}  {message}"
