"""The toy lab's processes, for the runner's tests (`make labNN`, `make status`).

python -m toy.service serve PORT      answers HTTP until it is stopped (500 while a file answer-500 exists)
python -m toy.service crash [SECONDS] logs an error and exits 1, SECONDS after start
python -m toy.service crash-on-cue    runs until a file named crash-now appears, then does the same
"""

import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path


class Hello(BaseHTTPRequestHandler):
    def do_GET(self):
        if Path("answer-500").exists():  # a web app broken while its server runs (Django after a bad save)
            print("RuntimeError: the toy page is broken", flush=True)
            self.send_response(500)
        else:
            self.send_response(200)
        self.end_headers()
        self.wfile.write(b"toy\n")

    def log_message(self, format, *args):  # no access log: its last line stays "serve starting"
        pass


def crash(reason: str) -> None:
    print(f"RuntimeError: {reason}", flush=True)
    sys.exit(1)


def main(mode: str, *args: str) -> None:
    print(f"toy service: {mode} starting", flush=True)
    if mode == "serve":
        HTTPServer(("127.0.0.1", int(args[0])), Hello).serve_forever()
    elif mode == "crash":
        time.sleep(float(args[0]) if args else 0)  # the behaviour under test: a crash a moment after start
        crash("the toy service lost its database")
    elif mode == "crash-on-cue":
        while not Path("crash-now").exists():
            time.sleep(0.1)
        crash("the toy service lost its broker")


if __name__ == "__main__":
    main(*sys.argv[1:])
