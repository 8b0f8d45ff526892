"""Generate the learner's starter (`exercise/`) from the solution.

The solution is the one source of truth. Each exercise region

    # BEGIN EXERCISE 2.3
    ...solution...
    # STARTER            (optional: what the starter has instead, commented out)
    # ...starter...
    # END EXERCISE 2.3

becomes a TODO and, unless a STARTER body is given, a
`raise NotImplementedError("Exercise 2.3 is not done yet: <title>")`.
"""

from __future__ import annotations

import re
import shutil
import textwrap
from collections import Counter
from pathlib import Path

from .labs import Lab

BEGIN = re.compile(r"^(?P<indent>\s*)# BEGIN EXERCISE (?P<id>\d+\.\d+)\s*$")
STARTER = re.compile(r"^\s*# STARTER\s*$")
END = re.compile(r"^\s*# END EXERCISE (?P<id>\d+\.\d+)\s*$")
SKIP_PARTS = {"__pycache__", ".pytest_cache", ".ipynb_checkpoints"}
SKIP_SUFFIXES = {".pyc", ".pyo"}
# Celery beat's default schedule file (and its .bak/.dat/.dir), written into the working
# folder by a beat whose code does not configure another place yet (lab 03's starter).
SKIP_PREFIXES = ("celerybeat-schedule",)


def _runtime_file(rel: Path) -> bool:
    """A file that running the code leaves behind: never part of a starter, never a difference."""
    return bool(set(rel.parts) & SKIP_PARTS) or rel.suffix in SKIP_SUFFIXES or rel.name.startswith(SKIP_PREFIXES)


class RegionError(Exception):
    """A malformed exercise region; the message names the file and line."""


def _todo(lab: Lab, exercise_id: str, indent: str) -> list[str]:
    ex = lab.exercise(exercise_id)
    first_hint = " ".join(ex.hints[0].split())  # hints may span lines in lab.toml
    lead = f"TODO Exercise {ex.id}: {ex.title}. {first_hint}".rstrip()
    width = max(40, 88 - len(indent) - 2)
    lines = [f"{indent}# {line}" for line in textwrap.wrap(lead, width)]
    lines.append(f"{indent}# `make hint EX={ex.id}` shows more hints; `make check LAB={lab.id}` grades your work.")
    return lines


def render(
    lab: Lab, text: str, where: str = "<text>", rel: str | None = None, blocks: dict[str, list[str]] | None = None
) -> tuple[str, set[str]]:
    """The starter version of one solution file, and the exercise ids found in it.

    `rel` is the file's path in the code folder: a region of an exercise whose
    `files` (lab.toml) do not name it is an error. `blocks`, when given,
    collects the text each region became (exercise id -> its blocks), with the
    lines around it up to the nearest line that is not blank on each side: code
    written just before or after a TODO, with the TODO left in, still changes it."""
    out: list[str] = []
    found: set[str] = set()
    spans: list[tuple[str, int, int]] = []  # exercise id, where its block starts and ends in `out`
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        begin = BEGIN.match(lines[i])
        if END.match(lines[i]) or STARTER.match(lines[i]):
            raise RegionError(f"{where}:{i + 1}: marker outside a BEGIN EXERCISE region")
        if not begin:
            out.append(lines[i])
            i += 1
            continue
        ex_id, indent = begin["id"], begin["indent"]
        try:
            declared = lab.exercise(ex_id).files
        except Exception:
            raise RegionError(f"{where}:{i + 1}: exercise {ex_id} is not in {lab.name}/lab.toml") from None
        if rel is not None and rel not in declared:
            raise RegionError(
                f"{where}:{i + 1}: a region of exercise {ex_id}, whose files in lab.toml are {', '.join(declared)}"
            )
        starter: list[str] | None = None
        j = i + 1
        while True:
            if j >= len(lines):
                raise RegionError(f"{where}:{i + 1}: BEGIN EXERCISE {ex_id} has no END EXERCISE {ex_id}")
            if BEGIN.match(lines[j]):
                raise RegionError(f"{where}:{j + 1}: regions cannot nest")
            end = END.match(lines[j])
            if end:
                if end["id"] != ex_id:
                    raise RegionError(f"{where}:{j + 1}: END EXERCISE {end['id']} closes {ex_id}")
                break
            if STARTER.match(lines[j]):
                starter = []
            elif starter is not None:
                starter.append(_uncomment(lines[j], where, j))
            j += 1
        block = _todo(lab, ex_id, indent)
        if starter is not None:
            block.extend(starter)
        else:
            title = lab.exercise(ex_id).title.replace('"', "'")
            block.append(f'{indent}raise NotImplementedError("Exercise {ex_id} is not done yet: {title}")')
        spans.append((ex_id, len(out), len(out) + len(block)))
        out.extend(block)
        found.add(ex_id)
        i = j + 1
    for ex_id, start, end in spans if blocks is not None else ():
        while start > 0 and not out[start - 1].strip():
            start -= 1
        while end < len(out) and not out[end].strip():
            end += 1
        blocks.setdefault(ex_id, []).append("\n".join(out[max(start - 1, 0) : end + 1]))
    trailing = "\n" if text.endswith("\n") else ""
    return "\n".join(out) + trailing, found


def _uncomment(line: str, where: str, index: int) -> str:
    stripped = line.lstrip()
    if not stripped:
        return ""
    if not stripped.startswith("#"):
        raise RegionError(f"{where}:{index + 1}: lines after # STARTER must be commented out")
    indent = line[: len(line) - len(stripped)]
    body = stripped[1:]
    return indent + (body[1:] if body.startswith(" ") else body)


def _solution_files(lab: Lab) -> list[Path]:
    files = []
    for path in sorted(lab.solution_dir.rglob("*")):
        rel = path.relative_to(lab.solution_dir)
        if path.is_file() and not (set(rel.parts) & SKIP_PARTS) and path.suffix not in SKIP_SUFFIXES:
            files.append(path)
    return files


def generate(lab: Lab) -> dict[str, bytes]:
    """relative path -> content of every starter file; checks every exercise has a region."""
    result: dict[str, bytes] = {}
    seen: set[str] = set()
    for path in _solution_files(lab):
        rel = str(path.relative_to(lab.solution_dir))
        data = path.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            result[rel] = data  # binary: copied as it is
            continue
        rendered, found = render(lab, text, f"{lab.name}/solution/{rel}", rel)
        seen |= found
        result[rel] = rendered.encode("utf-8")
    missing = [ex.id for ex in lab.exercises if ex.id not in seen]
    if missing:
        raise RegionError(f"{lab.name}: no BEGIN EXERCISE region for {', '.join(missing)}")
    return result


def untouched(lab: Lab, code_dir: Path) -> set[str]:
    """The exercises whose every starter block is still in the code as generated: not started.

    Rustlings' "I AM NOT DONE" marker without the marker: the learner starts an
    exercise by changing its block, and from then on it is graded for real."""
    blocks: dict[str, list[tuple[str, str]]] = {}
    for path in _solution_files(lab):
        rel = str(path.relative_to(lab.solution_dir))
        try:
            text = path.read_text("utf-8")
        except UnicodeDecodeError:
            continue
        found: dict[str, list[str]] = {}
        render(lab, text, rel, None, found)
        for ex_id, texts in found.items():
            blocks.setdefault(ex_id, []).extend((rel, t) for t in texts)
    result = set()
    for ex_id, pieces in blocks.items():
        contents = {
            rel: (code_dir / rel).read_text(errors="replace") if (code_dir / rel).exists() else "" for rel, _ in pieces
        }
        # Counted, not just found: two TODOs of one exercise can be the same text (lab 01's 1.4),
        # and writing one of them starts the exercise.
        if all(contents[rel].count(block) >= n for (rel, block), n in Counter(pieces).items()):
            result.add(ex_id)
    return result


def write(lab: Lab, dest: Path | None = None) -> list[str]:
    """Write the starter to `dest` (default: the lab's exercise/), removing stale files."""
    dest = dest or lab.exercise_dir
    files = generate(lab)
    changed = differences(lab, dest, files)
    if dest.exists():
        for path in sorted(dest.rglob("*"), reverse=True):
            rel = str(path.relative_to(dest))
            if path.is_file() and rel not in files and not _runtime_file(path.relative_to(dest)):
                path.unlink()
    for rel, content in files.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_bytes() != content:
            target.write_bytes(content)
            shutil.copymode(lab.solution_dir / rel, target)
    return changed


def differences(lab: Lab, dest: Path | None = None, files: dict[str, bytes] | None = None) -> list[str]:
    """Where `dest` differs from what the generator writes: one line per file."""
    dest = dest or lab.exercise_dir
    files = files if files is not None else generate(lab)
    problems = []
    for rel, content in files.items():
        target = dest / rel
        if not target.exists():
            problems.append(f"missing: {rel}")
        elif target.read_bytes() != content:
            problems.append(f"differs: {rel}")
    if dest.exists():
        for path in sorted(dest.rglob("*")):
            rel = path.relative_to(dest)
            if path.is_file() and str(rel) not in files and not _runtime_file(rel):
                problems.append(f"not in solution/: {rel}")
    return problems
