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
    "05": LABS / "05-beyond-one-machine" / "solution" / "app",
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


# --- reference code a learner can copy: short, and built on libraries' public API only ---

LAB02_MAX_LINES = 1_100
COPYABLE = {"02": LAB02.parent, "03": LABS / "03-django-celery" / "solution"}


def test_lab_02s_reference_app_stays_short():
    lines = sum(len(path.read_text().splitlines()) for path in LAB02.rglob("*.py"))
    assert lines <= LAB02_MAX_LINES, (
        f"labs/02-fastapi-celery/solution/app is {lines} lines, over {LAB02_MAX_LINES}: make it clearer "
        "(shared plumbing belongs in queuelabs/web.py; docstrings need not repeat the lesson), never denser"
    )


def _private(name):
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _is_self(node):
    return isinstance(node, ast.Name) and node.id in {"self", "cls"}


def _private_uses(folder):
    """`x._name`, `getattr(x, "_name")` and `from lib import _name`, unless a class of `folder` defines _name.

    A private attribute of the lab's own classes (`self._lock`) is its own business; any other is a
    library's, which may change in any release."""
    trees = {path: ast.parse(path.read_text()) for path in sorted(folder.rglob("*.py"))}
    own = set()  # the attributes the lab's own classes define: their methods, class attributes, self._x = ...
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                for member in node.body:
                    if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                        own.add(member.name)
                    elif isinstance(member, ast.Assign | ast.AnnAssign):
                        targets = member.targets if isinstance(member, ast.Assign) else [member.target]
                        own.update(target.id for target in targets if isinstance(target, ast.Name))
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and _is_self(node.value):
                own.add(node.attr)  # self._lock = ...; replacing another object's attribute is not owning it
    found = []
    for path, tree in trees.items():
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Attribute):
                names = [node.attr]
            elif isinstance(node, ast.Call) and getattr(node.func, "id", None) in {"getattr", "setattr", "hasattr"}:
                names = [arg.value for arg in node.args[1:2] if isinstance(arg, ast.Constant)]
            elif isinstance(node, ast.ImportFrom) and not node.level and not (node.module or "").startswith("app"):
                names = [alias.name for alias in node.names]
            found += [
                f"{path.relative_to(folder)}:{node.lineno} {name}"
                for name in names
                if isinstance(name, str) and _private(name) and name not in own
            ]
    return found


def test_the_references_use_no_private_attribute_of_a_library():
    problems = {lab: uses for lab, folder in COPYABLE.items() if (uses := _private_uses(folder))}
    assert not problems, f"the reference a learner copies touches a library's private attributes: {problems}"


def test_the_private_attribute_check_catches_one(tmp_path):
    (tmp_path / "broker.py").write_text(
        "from kombu.utils import _private\n"
        "def publish(connection):\n"
        "    connection.transport._write = print\n"
        "    getattr(connection, '_reraise_as_library_errors')\n"
        "    self._lock = None\n"
        "    return self._lock\n"
    )
    found = [use.split()[-1] for use in _private_uses(tmp_path)]
    assert sorted(found) == ["_private", "_reraise_as_library_errors", "_write"], found


# --- lab 05 is lab 04's reference on the cluster, changed only where an exercise (or an address) says ---

LAB05 = LABS / "05-beyond-one-machine" / "solution"
# What lab 05 changes in lab 04's reference: its exercises (5.1 and 5.3 celery_app.py, 5.2 broker.py, 5.4
# db.py, 5.6 services.py and routes/tasks.py: the Idempotency-Keys in MongoDB) and the cluster's addresses
# (config.py, main.py's Redis client through the Sentinels); tasks.py: whole-second countdowns, which native
# delayed delivery on quorum queues needs; api/errors.py: a 503 for Redis's NOREPLICAS (the partition row).
LAB05_CHANGES = {
    "app/celery_app.py",
    "app/broker.py",
    "app/db.py",
    "app/tasks.py",
    "app/core/config.py",
    "app/main.py",
    "app/services.py",
    "app/api/routes/tasks.py",
    "app/api/errors.py",
}


def solved(text: str) -> str:
    """A solution file with its exercise markers taken out and their STARTER bodies dropped."""
    from queuelabs.starter import BEGIN, END, STARTER

    kept, in_starter = [], False
    for line in text.splitlines(keepends=True):
        if BEGIN.match(line):
            continue
        if STARTER.match(line):
            in_starter = True
        elif END.match(line):
            in_starter = False
        elif not in_starter:
            kept.append(line)
    return "".join(kept)


def test_lab_05_carries_lab_04s_reference_unchanged_but_where_it_says():
    lab04 = LAB04.parent
    changed = []
    for path in sorted(lab04.rglob("*.py")):
        name = path.relative_to(lab04).as_posix()
        if "__pycache__" in name or name in LAB05_CHANGES:
            continue
        carried = LAB05 / name
        if not carried.exists() or carried.read_text() != solved(path.read_text()):
            changed.append(name)
    assert not changed, f"lab 05 must carry lab 04's reference (its exercises solved) unchanged: {changed}"
