"""The flaky payment service the task charges: a real HTTP server, and a bad one.

    python -m downstream.server --host 127.0.0.1 --port 8044

POST /charges {reference, amount} charges once per Idempotency-Key (a repeat
gets the first receipt back, `"replayed": true`); without a key every call is
a new charge. It misbehaves on purpose, at random (the rates from the
environment or PUT /faults) or on demand (`*_next` counts, used first):

  fail        answer 503 without charging           (a retry will do)
  hang        sleep hang_seconds, then charge       (the caller gave up; the charge happens anyway)
  lose_reply  charge, then answer 503               (the caller thinks it failed; it did not)
  refuse      answer 402 without charging           (a refusal: asking again changes nothing)

GET /charges lists every charge and counts the calls: the record the
checkpoints and the chaos suite count effects from. DELETE /charges forgets
everything and puts the fault settings back to their start values.
The state lives in memory: one process, threads share it under a lock.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULTS = ("fail", "hang", "lose_reply", "refuse")


def start_faults() -> dict[str, float]:
    return {
        "fail_rate": float(os.environ.get("DOWNSTREAM_FAIL_RATE", "0")),
        "hang_rate": float(os.environ.get("DOWNSTREAM_HANG_RATE", "0")),
        "lose_reply_rate": float(os.environ.get("DOWNSTREAM_LOSE_REPLY_RATE", "0")),
        "refuse_rate": 0.0,
        "hang_seconds": float(os.environ.get("DOWNSTREAM_HANG_SECONDS", "30")),
        "fail_next": 0,
        "hang_next": 0,
        "lose_reply_next": 0,
        "refuse_next": 0,
    }


class Ledger:
    """Charges by idempotency key, the call count, and the fault settings."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.charges: list[dict[str, Any]] = []
        self.by_key: dict[str, dict[str, Any]] = {}
        self.calls = 0
        self.faults = start_faults()

    def pick_fault(self) -> str | None:
        with self.lock:
            self.calls += 1
            for fault in FAULTS:  # scripted faults first, in this order
                if self.faults[f"{fault}_next"] > 0:
                    self.faults[f"{fault}_next"] -= 1
                    return fault
            roll = random.random()
            for fault in FAULTS:
                if roll < self.faults[f"{fault}_rate"]:
                    return fault
                roll -= self.faults[f"{fault}_rate"]
        return None

    def charge(self, reference: str, amount: int, key: str | None) -> dict[str, Any]:
        with self.lock:  # check and record in one step: two calls with one key charge once
            if key is not None and key in self.by_key:
                return {**self.by_key[key], "replayed": True}
            receipt = {
                "charge_id": uuid.uuid4().hex,
                "reference": reference,
                "amount": amount,
                "idempotency_key": key,
                "charged_at": time.time(),
            }
            self.charges.append(receipt)
            if key is not None:
                self.by_key[key] = receipt
            return {**receipt, "replayed": False}


LEDGER = Ledger()


class Handler(BaseHTTPRequestHandler):
    server_version = "FlakyPayments/1.0"

    def log_message(self, fmt: str, *args: Any) -> None:  # one short line per call
        print(f"downstream: {self.command} {self.path} -> {args[1] if len(args) > 1 else ''}", flush=True)

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        try:
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the caller timed out and left: the charge stands
            print(f"downstream: {self.command} {self.path} -> {status}, but the caller had gone", flush=True)

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    def do_GET(self) -> None:
        if self.path == "/charges":
            with LEDGER.lock:
                self._send(200, {"calls": LEDGER.calls, "charges": list(LEDGER.charges), "faults": LEDGER.faults})
        elif self.path == "/":
            self._send(200, {"service": "flaky payments", "charges": "/charges", "faults": "PUT /faults"})
        else:
            self._send(404, {"detail": "not found"})

    def do_DELETE(self) -> None:
        if self.path != "/charges":
            return self._send(404, {"detail": "not found"})
        with LEDGER.lock:
            LEDGER.reset()
        self._send(200, {"detail": "forgot every charge; faults back to their start values"})

    def do_PUT(self) -> None:
        if self.path != "/faults":
            return self._send(404, {"detail": "not found"})
        body = self._body()
        with LEDGER.lock:
            unknown = set(body) - set(LEDGER.faults)
            if unknown:
                return self._send(422, {"detail": f"unknown fault settings: {sorted(unknown)}"})
            LEDGER.faults.update({k: float(v) for k, v in body.items()})
            self._send(200, dict(LEDGER.faults))

    def do_POST(self) -> None:
        if self.path != "/charges":
            return self._send(404, {"detail": "not found"})
        body = self._body()
        reference, amount = body.get("reference"), body.get("amount")
        if not isinstance(reference, str) or not isinstance(amount, int) or amount <= 0:
            return self._send(400, {"detail": "a charge needs a reference (string) and an amount (positive integer)"})
        fault = LEDGER.pick_fault()
        if fault == "fail":
            return self._send(503, {"detail": "payment service unavailable, try again later"})
        if fault == "refuse":
            return self._send(402, {"detail": "card declined"})
        if fault == "hang":
            time.sleep(LEDGER.faults["hang_seconds"])
        receipt = LEDGER.charge(reference, amount, self.headers.get("Idempotency-Key"))
        if fault == "lose_reply":
            return self._send(503, {"detail": "payment service unavailable, try again later"})
        self._send(201, receipt)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8044)
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    print(f"flaky payment service on http://{args.host}:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
