"""The learner's side of the room: what is kept on the laptop until the room has it.

`make join` writes membership.json; from then on each `make check` and `make
watch` of your own code appends its grades to outbox.jsonl (record.py, a
pytest plugin: a file append, no network), and the sender (sender.py, its own
process) posts what the room has not acknowledged yet. outbox.sent holds how far
the room has acknowledged. Each grade carries an id made here, so a batch
posted twice (an answer lost on the Wi-Fi) is stored once.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

from ..settings import RUN_DIR

ROOM_DIR = RUN_DIR / "room"
MEMBERSHIP = ROOM_DIR / "membership.json"
OUTBOX = ROOM_DIR / "outbox.jsonl"
SENT = ROOM_DIR / "outbox.sent"

STATUS = {"passed": "PASS", "failed": "FAIL", "not started": "TODO"}
# Everything that leaves the laptop, per grade (a test holds the payload to this list).
FIELDS = ("id", "exercise", "status", "error", "at")
MAX_ERROR = 300


def pytest_args(code: str) -> list[str]:
    """After `make join`, grading your own code also records its grades for the room."""
    return ["-p", "queuelabs.room.record"] if code == "exercise" and MEMBERSHIP.exists() else []


def membership() -> dict | None:
    try:
        return json.loads(MEMBERSHIP.read_text())
    except (OSError, ValueError):
        return None


def first_error(grade: dict) -> str:
    """The one line a failing exercise is known by: what the code raised, else what is missing."""
    failed = [test for test in grade.get("tests", []) if test.get("outcome") == "failed"]
    raised = [t["error"] for t in failed if t.get("error")]
    missing = [t["why"] for t in failed if t.get("why")]
    line = (raised or missing or [grade.get("why", "")])[0]
    return " ".join(line.split())[:MAX_ERROR]


def grades_of(report: dict, at: float) -> list[dict]:
    """The grader's report (--grade-json) as the room's grades: PASS, FAIL or TODO only."""
    grades = []
    for exercise, grade in report.items():
        status = STATUS.get(grade.get("status"))
        if status is not None:
            error = first_error(grade) if status == "FAIL" else ""
            grades.append({"id": uuid.uuid4().hex, "exercise": exercise, "status": status, "error": error, "at": at})
    return grades


def record(grades: list[dict]) -> None:
    """Append in one write: a sender reading at the same moment sees whole lines or none."""
    if not grades:
        return
    ROOM_DIR.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps(grade) + "\n" for grade in grades).encode()
    fd = os.open(OUTBOX, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _sent_offset() -> int:
    try:
        return int(SENT.read_text())
    except (OSError, ValueError):
        return 0


def pending(limit: int) -> tuple[list[dict], int]:
    """Up to `limit` grades the room has not acknowledged, and the offset just after them."""
    start = _sent_offset()
    try:
        with open(OUTBOX, "rb") as outbox:
            outbox.seek(start)
            data = outbox.read(256 * 1024)
    except OSError:
        return [], start
    grades, end = [], start
    for line in data.splitlines(keepends=True):
        if not line.endswith(b"\n") or len(grades) == limit:
            break  # a line still being written, or enough for one post
        end += len(line)
        try:
            grade = json.loads(line)
        except ValueError:
            continue  # a damaged line is skipped, not sent
        grades.append({field: grade.get(field) for field in FIELDS})
    return grades, end


def mark_sent(offset: int) -> None:
    temporary = SENT.with_suffix(".tmp")
    temporary.write_text(str(offset))
    temporary.replace(SENT)  # all or nothing: a crash here resends a batch, which the room ignores


def undelivered() -> int:
    try:
        with open(OUTBOX, "rb") as outbox:
            outbox.seek(_sent_offset())
            return outbox.read().count(b"\n")
    except OSError:
        return 0


def forget() -> None:
    for path in (MEMBERSHIP, OUTBOX, SENT):
        Path(path).unlink(missing_ok=True)
