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


# --- one dialect: the FastAPI labs share their conventions, and lab 04 starts from lab 02's reference ---

LABS = REPO_ROOT / "labs"
LAB02 = LABS / "02-fastapi-celery" / "solution" / "app"
LAB04 = LABS / "04-retries-idempotency" / "solution" / "app"
# The files lab 04 takes from lab 02 as they are: the web plumbing, the publisher, the contract's models.
CARRIED = [
    "__init__.py",
    "main.py",
    "broker.py",
    "schemas.py",
    "core/__init__.py",
    "api/__init__.py",
    "api/deps.py",
    "api/errors.py",
    "api/routes/__init__.py",
]
FASTAPI_APPS = {
    "01": LABS / "01-sync-vs-async" / "solution" / "app",
    "02": LAB02,
    "04": LAB04,
}


def test_lab_04_carries_lab_02s_files_unchanged():
    changed = [name for name in CARRIED if (LAB04 / name).read_bytes() != (LAB02 / name).read_bytes()]
    assert not changed, f"lab 04 must carry these files of lab 02 unchanged (copy lab 02's over them): {changed}"


def test_the_fastapi_labs_share_settings_and_router_conventions():
    env_lines = (LAB02 / "core" / "config.py").read_text().split("class Settings")[0].splitlines()
    env_lines = [line for line in env_lines if "ENV_FILE" in line or "_PARENTS" in line]
    problems = []
    for lab, app in FASTAPI_APPS.items():
        config = app / "core" / "config.py"
        if not config.exists() or not (app / "api" / "routes").is_dir():
            problems.append(f"lab {lab}: settings in app/core/config.py, routes in app/api/routes/")
            continue
        text = config.read_text()
        if not all(line in text for line in env_lines):
            problems.append(f"lab {lab}: find .env as lab 02 does (ENV_FILE)")
        tree = ast.parse(text)
        settings = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Settings")
        lower = [t.target.id for t in settings.body if isinstance(t, ast.AnnAssign) and not t.target.id.isupper()]
        if lower:
            problems.append(f"lab {lab}: settings fields are upper case, as their variables: {lower}")
        for path in app.rglob("*.py"):
            relative = [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.ImportFrom) and n.level]
            if relative:
                problems.append(f"lab {lab}: absolute imports (from app...), not relative: {path.relative_to(app)}")
    assert not problems, problems


def test_the_tuned_variant_stays_the_reference_plus_its_tuning():
    """bench/tuned/app/ replaces some of the reference's modules: those that copy one must keep
    every line of it but the few they replace, so a change to the reference reaches the variant."""
    import difflib

    tuned = LABS / "02-fastapi-celery" / "bench" / "tuned" / "app"
    for name, replaced in (("main.py", 1), ("services.py", 3)):
        reference = (LAB02 / name).read_text().splitlines()
        variant = (tuned / name).read_text().splitlines()
        removed = [line for line in difflib.ndiff(reference, variant) if line.startswith("- ")]
        assert len(removed) <= replaced, f"bench/tuned/app/{name} no longer follows the reference: {removed}"
