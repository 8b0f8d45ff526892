"""The room's parts that need no network of their own: what a laptop sends, and the page's figures.

The end-to-end run (three learners, a frozen room, the page in Chromium) is tests/test_room.py.
"""

import json
import os
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from queuelabs.room import summary
from queuelabs.room.outbox import FIELDS
from queuelabs.settings import REPO_ROOT
from queuelabs.waiting import wait_until


class FussyRoom(BaseHTTPRequestHandler):
    """A stand-in room that answers its first post with 503, then 200, and keeps what it got."""

    posts: list[dict] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.posts.append({"path": self.path, "headers": dict(self.headers), "body": body})
        status, answer = (503, {"detail": "restarting"}) if len(self.posts) == 1 else (200, {"stored": 1})
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        pass


@pytest.fixture
def fussy_room():
    FussyRoom.posts = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FussyRoom)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_grade_sends_only_its_listed_fields_and_waits_out_a_room_that_fails(toy, tmp_path, fussy_room):
    env = {**os.environ, "QUEUELABS_RUN_DIR": str(tmp_path / "run")}
    room_dir = tmp_path / "run/room"
    room_dir.mkdir(parents=True)
    membership = {"room": fussy_room, "code": "ABCDEF", "name": "Ada", "token": "secret-token"}
    (room_dir / "membership.json").write_text(json.dumps(membership))
    # `make check EX=99.1`: the grader writes no report of its own, the room's plugin makes one.
    check = (
        "import sys; from pathlib import Path; from queuelabs import gradebook; from queuelabs.labs import load_lab;"
        "gradebook.run_checkpoints(load_lab(Path(sys.argv[1])), 'exercise', [*gradebook.TABLE_ONLY, '--exercise', '99.1'])"
    )
    graded = subprocess.run([sys.executable, "-c", check, str(toy.dir)], env=env, capture_output=True, text=True)
    assert "TODO  99.1" in graded.stdout, graded.stdout + graded.stderr
    kept = [json.loads(line) for line in (room_dir / "outbox.jsonl").read_text().splitlines()]
    assert [(g["exercise"], g["status"]) for g in kept] == [("99.1", "TODO")]

    sender = subprocess.Popen([sys.executable, "-m", "queuelabs.room.sender"], env=env, cwd=REPO_ROOT)
    try:
        sent = room_dir / "outbox.sent"
        wait_until(sent.exists, timeout=60, what="the sender to post again after a 503, and be answered")
    finally:
        sender.kill()
        sender.wait()
    first, second = FussyRoom.posts[:2]
    assert first["body"] == second["body"], "the grades kept after a 503 are not the ones sent again"
    for post in (first, second):
        assert post["path"] == "/api/results" and list(post["body"]) == ["results"]
        assert [sorted(grade) for grade in post["body"]["results"]] == [sorted(FIELDS)]
        assert post["headers"]["Authorization"] == "Bearer secret-token" and post["headers"]["X-Room-Code"] == "ABCDEF"
        extra = set(post["headers"]) - {"Host", "Accept", "Accept-Encoding", "Connection", "User-Agent"}
        assert extra == {"Authorization", "X-Room-Code", "Content-Length", "Content-Type"}, extra
    assert sorted(FIELDS) == ["at", "error", "exercise", "id", "status"]
    assert (room_dir / "outbox.sent").read_text() == str(len((room_dir / "outbox.jsonl").read_bytes()))


def test_make_watch_keeps_each_grade_for_the_room(toy, tmp_path):
    env = {**os.environ, "QUEUELABS_RUN_DIR": str(tmp_path / "run")}
    room_dir = tmp_path / "run/room"
    room_dir.mkdir(parents=True)
    (room_dir / "membership.json").write_text(json.dumps({"room": "http://192.0.2.1:8090", "code": "C", "token": "t"}))
    outbox = room_dir / "outbox.jsonl"
    watch = subprocess.Popen(
        [sys.executable, "-m", "queuelabs.watch", str(toy.dir)], env=env, cwd=REPO_ROOT, stdout=subprocess.DEVNULL
    )
    maths = toy.exercise_dir / "toy/maths.py"
    wrong = maths.read_text().replace('raise NotImplementedError("Exercise 99.1', 'return a - b  # ("')
    try:

        def saved_and_graded() -> bool:  # the watcher may still be starting: save again until it grades
            if not outbox.exists():
                maths.write_text(wrong)
            return outbox.exists()

        wait_until(saved_and_graded, timeout=120, interval=2, what="make watch to grade the saved file")
    finally:
        watch.send_signal(signal.SIGINT)
        watch.wait(timeout=60)
    grades = [json.loads(line) for line in outbox.read_text().splitlines()]
    assert {(g["exercise"], g["status"]) for g in grades} == {("99.1", "FAIL")}, grades
    assert "assert -1 == 5" in grades[0]["error"], grades[0]


def grade(learner, exercise, status, at, error=""):
    return {"learner": learner, "exercise": exercise, "status": status, "error": error, "at": at}


def test_the_page_figures():
    learners = [{"_id": "a", "name": "Ada"}, {"_id": "g", "name": "Grace"}, {"_id": "l", "name": "Linus"}]
    results = [
        grade("a", "2.1", "TODO", 0), grade("a", "2.1", "FAIL", 60, "KeyError"), grade("a", "2.1", "PASS", 300),
        grade("g", "2.1", "TODO", 0), grade("g", "2.1", "TODO", 100), grade("g", "2.1", "PASS", 200),
        grade("l", "2.1", "FAIL", 10, "KeyError"), grade("l", "2.1", "FAIL", 20, "KeyError"),
        grade("a", "2.10", "FAIL", 400, "TypeError"), grade("g", "2.10", "FAIL", 350, "KeyError"),
    ]  # fmt: skip
    page = summary.summarise(learners, results, now=1000)
    assert page["exercises"] == ["2.1", "2.10"]
    assert [row["results"] for row in page["learners"]] == [4, 4, 2]
    assert page["learners"][2]["cells"]["2.1"] == {"status": "FAIL", "error": "KeyError", "since": 10}
    # Linus since 10 s (the same failure twice), then Grace, then Ada.
    assert [(s["name"], s["exercise"], s["seconds"]) for s in page["stuck"]] == [
        ("Linus", "2.1", 990), ("Grace", "2.10", 650), ("Ada", "2.10", 600)
    ]  # fmt: skip
    first = page["per_exercise"][0]
    # Ada: from her last TODO (0) to her PASS (300); Grace: from 100 to 200. Linus has not passed.
    assert (first["passed"], first["failing"], first["median_seconds"]) == (2, 1, 200)
    assert (first["common_error"], first["sharing"]) == ("KeyError", 1)
    projector = summary.without_names(page)
    assert "Ada" not in json.dumps(projector) and projector["stuck"][0]["name"] == "learner 3"
