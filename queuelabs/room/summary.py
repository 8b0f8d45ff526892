"""What the room page shows, computed from the stored results: plain functions, no I/O.

The worker calls `summarise` after new results arrive; the page receives its
answer as one JSON document. Times are the learners' own grading times
(`at`, never later than when the room received them).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict

STUCK_SHOWN = 5


def exercise_key(exercise_id: str) -> tuple[int, ...]:
    """ "2.10" after "2.9"."""
    return tuple(int(part) for part in exercise_id.split("."))


def _cell(history: list[dict]) -> dict:
    """A learner's latest grade of one exercise, and since when it has read exactly that."""
    latest = history[-1]
    since = latest["at"]
    for result in reversed(history):
        if (result["status"], result["error"]) != (latest["status"], latest["error"]):
            break
        since = result["at"]
    return {"status": latest["status"], "error": latest["error"], "since": since}


def time_to_pass(history: list[dict]) -> float | None:
    """Seconds from starting an exercise to its first PASS, or None when it has not passed.

    Started = the last TODO before the first other grade (`make check` grades every exercise,
    so that is about when the learner began editing it); without a TODO, the first grade."""
    first_pass = next((r for r in history if r["status"] == "PASS"), None)
    if first_pass is None or first_pass is history[0]:
        return None  # no grade before the PASS: when the work began is unknown
    first_work = next(i for i, r in enumerate(history) if r["status"] != "TODO")
    start = history[first_work - 1] if first_work > 0 else history[0]
    return max(0.0, first_pass["at"] - start["at"])


def summarise(learners: list[dict], results: list[dict], now: float) -> dict:
    """learners: {_id, name} in joining order; results: {learner, exercise, status, error, at}."""
    histories: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for result in sorted(results, key=lambda r: r["at"]):
        histories[result["learner"], result["exercise"]].append(result)
    exercises = sorted({exercise for _, exercise in histories}, key=exercise_key)
    received = Counter(result["learner"] for result in results)

    rows = []
    for learner in learners:
        cells = {ex: _cell(histories[learner["_id"], ex]) for ex in exercises if (learner["_id"], ex) in histories}
        rows.append(
            {"id": learner["_id"], "name": learner["name"], "results": received[learner["_id"]], "cells": cells}
        )

    failing = [(row, ex, cell) for row in rows for ex, cell in row["cells"].items() if cell["status"] == "FAIL"]
    failing.sort(key=lambda item: item[2]["since"])
    stuck = [
        {
            "learner": row["id"],
            "name": row["name"],
            "exercise": ex,
            "error": cell["error"],
            "seconds": round(now - cell["since"]),
        }
        for row, ex, cell in failing[:STUCK_SHOWN]
    ]

    per_exercise = []
    for ex in exercises:
        errors = Counter(cell["error"] for _, fail_ex, cell in failing if fail_ex == ex and cell["error"])
        durations = [d for row in rows if (d := time_to_pass(histories.get((row["id"], ex), []))) is not None]
        common, count = errors.most_common(1)[0] if errors else ("", 0)
        per_exercise.append(
            {
                "exercise": ex,
                "passed": sum(1 for row in rows if row["cells"].get(ex, {}).get("status") == "PASS"),
                "failing": sum(1 for _, fail_ex, _ in failing if fail_ex == ex),
                "common_error": common,
                "sharing": count,
                "median_seconds": round(statistics.median(durations)) if durations else None,
            }
        )
    return {"exercises": exercises, "learners": rows, "stuck": stuck, "per_exercise": per_exercise, "at": now}


def without_names(summary: dict) -> dict:
    """The projector's view: every name replaced by a number, in joining order (sent as such:
    hiding names in the browser would still send them to anyone who opens the page)."""
    numbers = {row["id"]: f"learner {i}" for i, row in enumerate(summary["learners"], 1)}
    return {
        **summary,
        "learners": [{**row, "name": numbers[row["id"]]} for row in summary["learners"]],
        "stuck": [{**item, "name": numbers[item["learner"]]} for item in summary["stuck"]],
    }
