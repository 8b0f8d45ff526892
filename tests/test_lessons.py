"""The lessons' console examples print what the lessons show.

Convention (for lesson writers, also in CONTRIBUTING.md): a fenced block opened
with ```console checked holds `$ command` lines, each followed by the output the
lesson promises. The test runs the commands of a block in order, from the
repository's root, with a fresh .run/ of their own (so `make hint` starts at
hint 1), and compares each output with the lesson's after a small
normalisation (trailing spaces, timings, ids, make's Makefile line numbers). A
line that is just `...` stands for any number of lines.

Words after `checked` say what a block needs:
- `stack`: RabbitMQ, Redis and MongoDB answering (`make check` on a starter);
  `make test` starts the stack before it runs these tests.
- `starter`: the untouched starters in every lab's exercise/ (`make check`,
  `make progress`). In a learner's clone, where exercise/ holds their work, the
  block is skipped and says why; under CI (a clean clone) that is a failure.
Only mark output that does not depend on timing or on what else runs, and keep
the whole file quick: it runs in `make test` (about 45 s today).
"""

import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from queuelabs import probes, starter
from queuelabs.labs import all_labs, find_lab
from queuelabs.settings import REPO_ROOT, SERVICES

CHECKED = re.compile(r"^```console checked([^\n]*)\n(.*?)^```$", re.DOTALL | re.MULTILINE)
NEEDS = {"stack", "starter"}
TIMINGS = re.compile(r"\b\d+(\.\d+)? ?(ms|s)\b")
IDS = re.compile(r"\b[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\b")
MAKEFILE_LINES = re.compile(r"\[Makefile:\d+: ")  # make's own error line names a line of the Makefile


def lesson_files() -> list[Path]:
    return [
        REPO_ROOT / "README.md",
        *sorted((REPO_ROOT / "labs").glob("*/README.md")),
        REPO_ROOT / "TRAINERS.md",
        REPO_ROOT / "loadtest" / "README.md",
    ]


def checked_blocks() -> list[tuple[str, set[str], str]]:
    """[(where, needs, block)] of every lesson."""
    blocks = []
    for path in lesson_files():
        for number, match in enumerate(CHECKED.finditer(path.read_text()), 1):
            blocks.append((f"{path.relative_to(REPO_ROOT)}#{number}", set(match.group(1).split()), match.group(2)))
    return blocks


def steps(block: str) -> list[tuple[str, str]]:
    """[(command, expected output)] of one block."""
    result: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            result.append((line[2:], []))
        elif result:
            result[-1][1].append(line)
    return [(command, "\n".join(lines)) for command, lines in result]


def normalise(text: str) -> str:
    text = IDS.sub("<id>", TIMINGS.sub("<time>", MAKEFILE_LINES.sub("[Makefile:<line>: ", text)))
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def matches(expected: str, actual: str) -> bool:
    parts = [re.escape(line) if line != "..." else "(?:.*\n)*?" for line in normalise(expected).split("\n")]
    pattern = "".join(part if part.startswith("(?:") else part + "\n" for part in parts)
    return re.fullmatch(pattern, normalise(actual) + "\n") is not None


def test_the_lessons_have_checked_examples():
    assert len(checked_blocks()) >= 1, "no ```console checked block in any lesson: the convention is unused"
    for where, needs, _ in checked_blocks():
        assert needs <= NEEDS, f"{where}: unknown word after `console checked`: {needs - NEEDS} (known: {NEEDS})"


def require(where: str, needs: set[str]) -> None:
    """Fail (or, for a learner's own work, skip) with one line when a block cannot run here."""
    if "stack" in needs and (down := probes.services_down(list(SERVICES))):
        pytest.fail(f"{where} needs the stack: {down[0]}", pytrace=False)
    if "starter" in needs:
        edited = [lab.name for lab in all_labs() if starter.differences(lab)]
        if edited:
            why = f"{where} shows the untouched starter, and exercise/ differs from it in {', '.join(edited)}"
            if os.environ.get("CI"):
                pytest.fail(f"{why}: run `make starter`", pytrace=False)
            pytest.skip(f"{why} (your own work; CI checks a clean clone)")


@pytest.mark.parametrize("where, needs, block", checked_blocks(), ids=[where for where, _, _ in checked_blocks()])
def test_a_checked_console_example_prints_what_the_lesson_shows(tmp_path, where, needs, block):
    require(where, needs)
    # As a learner types it: not a sub-make of `make test` (which would print "make[1]:" in its errors).
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")}
    env.update(QUEUELABS_RUN_DIR=str(tmp_path / "run"), MAKEFLAGS="--no-print-directory")
    for command, expected in steps(block):
        done = subprocess.run(
            ["bash", "-c", command], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        if not matches(expected, done.stdout + done.stderr):
            printed = done.stdout + done.stderr
            pytest.fail(f"{where}: `{command}` printed\n{printed}\nbut the lesson shows\n{expected}", pytrace=False)


@pytest.mark.parametrize(
    "expected, actual, same",
    [
        ("a\n...\nc", "a\nb\nb2\nc\n", True),
        ("a\n...", "a\n", True),
        ("took 1.5 s", "took 0.2 s", True),
        ("a\nc", "a\nb\nc", False),
        ("make: *** [Makefile:80: hint] Error 2", "make: *** [Makefile:81: hint] Error 2", True),
    ],
)
def test_the_comparison(expected, actual, same):
    assert matches(expected, actual) is same


# TRAINERS.md: every command it names is run by a test. The quick ones, whose output does not depend
# on the machine, are its ```console checked blocks (run above, like the lessons'). The others take
# minutes, hold the terminal or need a room of laptops: each is run by the test named here, through
# the same code as its make target. The few that no test runs are named, with why, in NOT_RUN.
TRAINERS = REPO_ROOT / "TRAINERS.md"
RUN_ELSEWHERE = {
    "make setup": "every make target depends on it: tests/test_lessons.py::test_a_checked_console_example_prints_what_the_lesson_shows",
    "make test": "the suite itself",
    "make up": "tests/test_stack.py::test_make_up_resumes_a_service_left_frozen_by_an_experiment",
    "make down": "tests/test_stack.py::test_stopped_process_is_not_running_even_as_a_zombie",
    "make status": "tests/test_status.py::test_status_shows_a_crash_after_start_and_what_still_runs",
    "make doctor": "tests/test_doctor.py::test_doctor_passes_on_a_prepared_machine",
    "make check": "tests/test_grader.py::test_solution_passes_everything",
    "make watch": "tests/test_watch.py::test_a_save_regrades_its_exercise_and_ctrl_c_ends_cleanly",
    "make progress": "tests/test_progress_jumped.py::test_a_jumped_lab_reads_pass_jumped_not_your_work",
    "make jump": "tests/test_progress_jumped.py::test_a_jumped_lab_reads_pass_jumped_not_your_work",
    "make reset": "tests/test_progress_jumped.py::test_an_untouched_starter_has_nothing_to_back_up",
    "make lab": "tests/test_side_by_side.py::test_the_labs_run_side_by_side_and_answer_the_contract",
    "make logs NAME=": "tests/test_lessons.py::test_make_logs_of_a_lab_shows_both_codes_of_that_lab_only",
    "make manage": "tests/test_lessons.py::test_a_checked_console_example_prints_what_the_lesson_shows",
    "make manage ARGS=createsuperuser": "tests/test_lessons.py::test_createsuperuser_then_the_admin_login_works",
    "make clean": "tests/test_lessons.py::test_make_clean_deletes_the_run_folder_but_keeps_the_backups",
    "make loadtest LAB=01": "tests/test_loadtest.py::test_lab01_blocking_variant_is_ten_times_worse",
    "make loadtest LAB=02": "tests/test_loadtest.py::test_lab02_api_has_zero_failed_requests",
    "make loadtest LAB=02,03": "tests/test_loadtest.py::test_lab02_and_lab03_under_the_same_load_compared",
    "make loadtest LAB=04": "tests/test_loadtest.py::test_lab04_loses_no_task_while_the_payment_service_fails",
    "make loadtest LAB=05": "tests/test_cluster.py::test_lab05_loadtest_loses_nothing_while_the_mongodb_primary_dies",
    "make loadtest": "tests/test_loadtest.py::test_lab02_api_has_zero_failed_requests",
    "make cluster": "tests/test_cluster.py::test_a_second_make_cluster_reuses_every_process",
    "make locust": "tests/test_loadtest.py::test_the_web_ui_opens_with_the_projector_preset",
    "make scale": "tests/test_scale.py::test_below_the_limit_no_request_fails_and_all_three_replicas_answer",
    "make notebooks": "tests/test_notebooks.py::test_notebook_runs_and_plots",
    "make room": "tests/test_room.py::test_three_learners_grade_and_every_grade_arrives_once_even_through_a_frozen_room",
    "make join": "tests/test_room.py::test_three_learners_grade_and_every_grade_arrives_once_even_through_a_frozen_room",
    "make leave": "tests/test_room.py::test_three_learners_grade_and_every_grade_arrives_once_even_through_a_frozen_room",
}
NOT_RUN = {
    "make demo": "1 min 40 s with the stack up (its tour has no short form), past make test's budget; "
    "its priority step is tests/test_demo_priority.py",
    "make chaos": "about 7 minutes of faults: the reliability suite runs it, not make test",
    "make screenshots": "a maintainer's tool: headless Chromium, about 2 minutes",
}


def trainers_commands() -> set[str]:
    """Every `make ...` TRAINERS.md names: in backticks, in ```bash blocks, and after `$ ` in console blocks."""
    text = TRAINERS.read_text()
    commands = set(re.findall(r"`(make [^`]+)`", text))
    for fence, block in re.findall(r"^```(\w+)[^\n]*\n(.*?)^```$", text, re.DOTALL | re.MULTILINE):
        for line in block.splitlines():
            if fence == "bash" and line.startswith("make "):
                commands.add(line.split("#")[0].strip())
            elif fence == "console" and line.startswith("$ make "):
                commands.add(line[2:].strip())
    return commands


def covered_by(command: str, table: dict[str, str]) -> str | None:
    """The longest entry of `table` that the command starts with (`make lab` covers `make lab02 STOP=1`)."""
    keys = [key for key in table if command.startswith(key)]
    return table[max(keys, key=len)] if keys else None


def test_every_command_of_the_trainers_guide_is_run_by_a_test():
    checked = {cmd for where, _, block in checked_blocks() if where.startswith("TRAINERS") for cmd, _ in steps(block)}
    assert len(checked) >= 3, "TRAINERS.md's quick commands belong in ```console checked blocks"
    missing = []
    for command in sorted(trainers_commands() - checked):
        if covered_by(command, NOT_RUN):
            continue
        test = covered_by(command, RUN_ELSEWHERE)
        if test is None:
            missing.append(command)
            continue
        if "::" in test:  # the test named must exist
            path, name = test.split(": ")[-1].split("::")
            assert f"def {name}(" in (REPO_ROOT / path).read_text(), f"{command}: {test} does not exist"
    assert not missing, f"TRAINERS.md names {missing}: check it in a console block or name its test in RUN_ELSEWHERE"


def test_make_logs_of_a_lab_shows_both_codes_of_that_lab_only(tmp_path):
    """TRAINERS.md's `make logs NAME=lab02`: the learner's processes and the reference's, one view."""
    logs = tmp_path / "run" / "logs"
    logs.mkdir(parents=True)
    for name in ("lab02-api", "lab02-ref-api", "lab02-ref-worker", "lab03-api"):
        (logs / f"{name}.log").write_text(f"a line of {name}\n")
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")}
    env.update(QUEUELABS_RUN_DIR=str(tmp_path / "run"), MAKEFLAGS="--no-print-directory")
    done = subprocess.run(["make", "logs", "NAME=lab02"], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    shown = re.findall(r"==> .*/(\S+)\.log <==", done.stdout)
    assert shown == ["lab02-api", "lab02-ref-api", "lab02-ref-worker"], done.stdout
    assert "a line of lab02-ref-worker" in done.stdout


def _make(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """A make target as a trainer types it, not as a sub-make of make test."""
    clean = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")}
    clean.update(MAKEFLAGS="--no-print-directory", **(env or {}))
    return subprocess.run(["make", *args], cwd=REPO_ROOT, env=clean, capture_output=True, text=True, timeout=300)


def test_createsuperuser_then_the_admin_login_works(run_solution):
    """TRAINERS.md's admin login: `make manage ARGS=createsuperuser CODE=solution`, run without the
    terminal (Django's --noinput and DJANGO_SUPERUSER_PASSWORD), then that user logs in to /admin/
    of a lab 03 API on the reference's database. The user is removed afterwards.

    Nothing is assumed of that database: createsuperuser applies the migrations first (as
    `make lab03 CODE=solution` does), so on a fresh one the user does not make MongoDB create
    Django's collections by inserting, which would make every later migrate fail with
    `CollectionInvalid: collection auth_permission already exists`; a migrate afterwards proves it."""
    import httpx
    import pymongo

    username, password = f"trainer-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    args = f"ARGS=createsuperuser --noinput --username {username} --email {username}@example.com"
    done = _make("manage", args, "CODE=solution", env={"DJANGO_SUPERUSER_PASSWORD": password})
    assert done.returncode == 0 and "Superuser created" in done.stdout, done.stdout + done.stderr
    database = find_lab("03").corner("solution").mongodb_db
    try:
        api = run_solution("03", "api", env={"MONGODB_DB": database})["api"].url
        with httpx.Client(base_url=api, timeout=30) as http:
            page = http.get("/admin/login/")
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
            assert token, f"no login form at /admin/login/ (status {page.status_code})"
            form = {
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": token.group(1),
                "next": "/admin/",
            }
            assert http.post("/admin/login/", data=form).status_code == 302, "the new superuser could not log in"
            assert http.get("/admin/").status_code == 200
        migrated = _make("manage", "ARGS=migrate --no-input", "CODE=solution")
        assert migrated.returncode == 0 and "No migrations to apply" in migrated.stdout, (
            migrated.stdout + migrated.stderr
        )
    finally:
        with pymongo.MongoClient(SERVICES["mongodb"].url, serverSelectionTimeoutMS=5000) as client:
            client[database]["auth_user"].delete_one({"username": username})


def test_make_manage_says_in_one_line_that_mongodb_is_down():
    """Without its database, `make manage ARGS=migrate` answers one line that names MongoDB and
    `make up`, at once, not Django's ServerSelectionTimeoutError traceback after 30 s."""
    done = _make("manage", "ARGS=migrate", env={"MONGODB_URL": "mongodb://127.0.0.1:9"})
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    assert "MongoDB is not answering on 127.0.0.1:9" in done.stderr and "make up" in done.stderr, done.stderr


def test_make_clean_deletes_the_run_folder_but_keeps_the_backups(tmp_path):
    """TRAINERS.md's `make clean`, in a copy of the checkout (the real .run/ holds the stack this
    suite runs on): data and logs go, .run/backups/ (the learner's saved exercises) stays."""
    copy = tmp_path / "checkout"
    (copy / "scripts").mkdir(parents=True)
    for name in ("Makefile", "pyproject.toml", "uv.lock", "scripts/bootstrap-uv.sh"):
        shutil.copy2(REPO_ROOT / name, copy / name)  # copy2 keeps the times: .venv stays up to date
    (copy / ".venv").symlink_to(REPO_ROOT / ".venv")
    run = copy / ".run"
    for path in ("data/mongodb/collection.wt", "logs/lab02-api.log", "backups/02-fastapi-celery/app/main.py"):
        (run / path).parent.mkdir(parents=True, exist_ok=True)
        (run / path).write_text("kept?\n")
    clean = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")}
    clean.update(MAKEFLAGS="--no-print-directory", QUEUELABS_RUN_DIR=str(run))
    done = subprocess.run(["make", "clean"], cwd=copy, env=clean, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "kept .run/backups/" in done.stdout, done.stdout
    assert sorted(p.name for p in run.iterdir()) == ["backups"], list(run.iterdir())
    assert (run / "backups/02-fastapi-celery/app/main.py").read_text() == "kept?\n"
