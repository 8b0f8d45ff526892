"""The platform's shape: short modules, no import cycles, nothing that points outside the repository."""

import ast
import subprocess

from queuelabs.settings import REPO_ROOT

PACKAGE = REPO_ROOT / "queuelabs"
MAX_LINES = 300


def _module_name(path):
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path):
    """The queuelabs modules a file imports (at any depth, relative or absolute)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base.startswith("queuelabs"):
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("queuelabs"))
    return found


def test_no_module_is_longer_than_about_300_lines():
    long = {_module_name(p): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"split these modules: {long}"


def test_no_module_imports_one_that_imports_it_back():
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {name: _imports(path) & set(modules) for name, path in modules.items()}
    cycles = sorted(
        f"{a} <-> {b}" for a, deps in graph.items() for b in deps if a < b and a in graph.get(b, ()) and a != b
    )
    assert not cycles, cycles


def test_nothing_points_outside_the_repository():
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True).stdout.split()
    offenders = []
    for rel in tracked:
        path = REPO_ROOT / rel
        if path.suffix in {".lock"} or not path.is_file() or rel == "tests/test_structure.py":
            continue
        text = path.read_text(errors="replace")
        if "DESIGN.md" in text or "../shared" in text:
            offenders.append(rel)
    assert not offenders, offenders
