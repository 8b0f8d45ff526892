"""The sender `make join` starts: posts the outbox to the room, in the background.

    python -m queuelabs.room.sender      (its log: .run/logs/room-sender.log)

Grading never waits for it. Every post has a time limit; when the room does not
answer (frozen, restarting, the laptop off the Wi-Fi) the grades stay in the
outbox and go with the next post that succeeds. Posting the same batch again
is harmless: the room stores each grade id once.
"""

from __future__ import annotations

import time

import httpx

from . import outbox

BATCH = 25  # 25 grades of 300 characters, even in 4-byte UTF-8, stay under the room's 64 KB
IDLE_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 5.0


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def detail(reply: httpx.Response) -> str:
    try:
        return str(reply.json().get("detail", reply.text))[:200]
    except ValueError:
        return reply.text[:200]


def post_once(client: httpx.Client) -> float:
    """Post one batch; the seconds to wait before the next try."""
    grades, end = outbox.pending(BATCH)
    if not grades:
        return IDLE_SECONDS
    reply = client.post("/api/results", json={"results": grades})
    if reply.status_code == 200:
        outbox.mark_sent(end)
        say(f"delivered {len(grades)} grade(s) ({reply.json().get('already_here', 0)} were there already)")
        return 0.0
    if reply.status_code == 429:
        return float(reply.headers.get("Retry-After", 10))
    if reply.status_code in (413, 422):  # these grades will never be accepted: skip them, keep the rest flowing
        outbox.mark_sent(end)
        say(f"the room refused {len(grades)} grade(s): {detail(reply)}")
        return 0.0
    say(f"the room answered {reply.status_code}: {detail(reply)}; kept, will retry")
    return 30.0 if reply.status_code in (401, 403) else MAX_BACKOFF_SECONDS


def main() -> None:
    membership = outbox.membership()
    if membership is None:
        raise SystemExit("not in a room: `make join ROOM=... CODE=... NAME=...` first")
    headers = {"Authorization": f"Bearer {membership['token']}", "X-Room-Code": membership["code"]}
    timeout = httpx.Timeout(5.0, connect=3.0)
    say(f"sending grades to {membership['room']} as {membership['name']}")
    backoff = 1.0
    with httpx.Client(base_url=membership["room"], headers=headers, timeout=timeout) as client:
        while True:
            try:
                wait = post_once(client)
                backoff = 1.0
            except httpx.HTTPError as exc:
                say(f"the room does not answer ({type(exc).__name__}): {outbox.undelivered()} grade(s) kept")
                wait, backoff = backoff, min(backoff * 2, MAX_BACKOFF_SECONDS)
            time.sleep(wait)


if __name__ == "__main__":
    main()
