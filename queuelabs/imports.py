"""The graded code read from its source, never imported: which files a lab process loads (what
`make check` compares to know whether a warm process still runs the code on disk, warm.py), and
the first syntax error (the grader reports it once, not a failure per checkpoint).

Generous on purpose, since missing a file would keep a process with stale code: a module is
loaded when a command line or environment value names it, when a loaded module imports it, or
when a loaded module names it or something in it in a string (Celery's include, Django's
INSTALLED_APPS, MIDDLEWARE and ROOT_URLCONF). A package named in a string also loads the modules
Django and Celery discover in it (DISCOVERED), and a module loads the __init__.py of every
package above it.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable
from pathlib import Path

# What Django (apps, models, admin, signals, checks; a database ENGINE's base) and Celery's autodiscover_tasks (tasks) import
# from a package named in INSTALLED_APPS without any import statement.
DISCOVERED = ("apps", "models", "admin", "signals", "checks", "tasks", "base")


def modules_of(code_dir: Path) -> dict[str, Path]:
    """Every module of the code folder by dotted name (a package by its own name: its __init__.py)."""
    found = {}
    for path in sorted(code_dir.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        parts = path.relative_to(code_dir).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if name:
            found[name] = path
    return found


def named_in(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """The module names a module imports, and (with a leading "=") the words it writes in a string."""
    names = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x, from ..y import z
                anchor = package.split(".")[: max(len(package.split(".")) - node.level + 1, 0)]
                base = ".".join([*anchor, *([base] if base else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) < 200:
            names.add("=" + node.value.split(":")[0])
    return names


@functools.lru_cache(maxsize=1024)
def _names_in_source(source: str, module: str, is_package: bool) -> frozenset[str]:
    """named_in, parsed once per text: a warm check asks it of the same files for every parked process."""
    return frozenset(named_in(ast.parse(source), module, is_package))


def loaded_files(code_dir: Path, entry_points: list[str]) -> set[Path]:
    """The files a process started with these names (command-line words, environment values) loads."""
    modules = modules_of(code_dir)
    packages = {name for name, path in modules.items() if path.name == "__init__.py"}

    def expand(word: str) -> set[str]:
        """The modules a name loads: for a string, the longest module its dotted prefix names
        (config.middleware.Timing is config.middleware), with what Django and Celery discover."""
        in_string = word.startswith("=")
        name = word.lstrip("=").split(":")[0].removesuffix(".py").replace("/", ".")
        while name not in modules and in_string and "." in name:
            name = name.rpartition(".")[0]
        if name not in modules:
            return set()
        parts = name.split(".")
        found = {".".join(parts[:i]) for i in range(1, len(parts) + 1)} & modules.keys()
        if in_string and name in packages:
            found |= {f"{name}.{sub}" for sub in DISCOVERED} & modules.keys()
        return found

    todo = set().union(*(expand("=" + word) for word in entry_points))
    seen: set[str] = set()
    while todo:
        module = todo.pop()
        seen.add(module)
        try:
            names = _names_in_source(modules[module].read_text(errors="replace"), module, module in packages)
        except SyntaxError:
            continue  # compiles nowhere: a changed file all the same, the hash says so
        for name in names:
            todo |= expand(name) - seen
    return {modules[name] for name in seen}


def compile_error(code_dir: Path, rel: Callable[[Path], str] = str) -> str | None:
    """The first syntax error in the graded code, as a few lines with file, line and the offending line."""
    for path in sorted(code_dir.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        source = path.read_text(errors="replace")
        try:
            compile(source, str(path), "exec")
        except SyntaxError as exc:
            line = (exc.text or "").rstrip() or source.splitlines()[(exc.lineno or 1) - 1]
            return f"{rel(path)}, line {exc.lineno}\n      {line.strip()}\n  SyntaxError: {exc.msg}"
    return None
