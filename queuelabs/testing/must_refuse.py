"""What every lab refuses: one table for labs 02, 03 and 04, and the hostile-input check.

Part of the HTTP contract (contract.py holds the rest). Each lab's
tests/test_hostile_input.py sends the table to its API with the status its
framework gives bad input (422 FastAPI, 400 DRF). Add a row here, not in a lab.
"""

from __future__ import annotations

import json

import httpx

from queuelabs import local_http
from queuelabs.testing.checks import check_response, fail_if_not_started
from queuelabs.testing.contract import BAD_INPUT

# Each row is a JSON text sent as typed (so "\ud800" stays an escape and NaN stays a
# bare word) to one path. Every lab that serves the path must refuse it as bad input
# (422 FastAPI, 400 DRF): anything else either stores what the API cannot read back
# (inf, a lone surrogate), or lets one request cost megabytes, or is a 500.

_BIG_METADATA = '{"blob": "' + "x" * 16_384 + '"}'  # over 16 KB as JSON
_ELEVEN_DEEP = '{"a": ' * 11 + "1" + "}" * 11  # metadata nested 11 levels below the top
_DEEP_LISTS = "[" * 50_000 + "]" * 50_000  # 100 KB: under the body limit, deeper than any parser recurses

MUST_REFUSE: list[tuple[str, str, str]] = [
    # (what, path, JSON text)
    ("name of 201 characters", "/api/items", '{"name": "' + "x" * 201 + '"}'),
    ("description of 2,001 characters", "/api/items", '{"name": "x", "description": "' + "x" * 2001 + '"}'),
    ("metadata over 16 KB as JSON", "/api/items", '{"name": "x", "metadata": ' + _BIG_METADATA + "}"),
    ("metadata nested 11 deep", "/api/items", '{"name": "x", "metadata": ' + _ELEVEN_DEEP + "}"),
    ("50,000 nested lists", "/api/items", '{"name": "x", "metadata": {"deep": ' + _DEEP_LISTS + "}}"),
    ("NUL in a metadata key", "/api/items", '{"name": "x", "metadata": {"a\\u0000b": 1}}'),
    ("'$' starting a metadata key", "/api/items", '{"name": "x", "metadata": {"$where": 1}}'),
    ("'$' starting a nested key", "/api/items", '{"name": "x", "metadata": {"a": {"$gt": 1}}}'),
    ("'.' in a metadata key", "/api/items", '{"name": "x", "metadata": {"a.b": 1}}'),
    ("integer over 64 bits", "/api/items", '{"name": "x", "metadata": {"n": 18446744073709551616}}'),
    ("NaN in metadata", "/api/items", '{"name": "x", "metadata": {"n": NaN}}'),
    ("Infinity in metadata", "/api/items", '{"name": "x", "metadata": {"n": Infinity}}'),
    ("-Infinity in a list", "/api/items", '{"name": "x", "metadata": {"n": [1, -Infinity]}}'),
    ("1e400 in metadata (overflows to inf)", "/api/items", '{"name": "x", "metadata": {"n": 1e400}}'),
    ("lone surrogate in a name", "/api/items", '{"name": "\\ud800"}'),
    ("lone surrogate in a metadata key", "/api/items", '{"name": "x", "metadata": {"\\udfff": 1}}'),
    ("lone surrogate in a metadata value", "/api/items", '{"name": "x", "metadata": {"k": ["\\ud800"]}}'),
    ("data of 10,001 characters", "/api/async/process", '{"data": "' + "x" * 10_001 + '", "iterations": 1}'),
    ("iterations 0", "/api/async/process", '{"data": "x", "iterations": 0}'),
    ("iterations 1001", "/api/async/process", '{"data": "x", "iterations": 1001}'),
    ("iterations NaN", "/api/async/process", '{"data": "x", "iterations": NaN}'),
    ("iterations 1e400", "/api/async/process", '{"data": "x", "iterations": 1e400}'),
    (
        "data x iterations over 1,000,000 characters",
        "/api/async/process",
        '{"data": "' + "x" * 10_000 + '", "iterations": 1000}',
    ),
    ("lone surrogate in the data", "/api/async/process", '{"data": "\\ud800", "iterations": 1}'),
    ("lone surrogate in a name", "/api/send-welcome-email", '{"email": "a@b.io", "name": "\\ud800"}'),
]

# A body no JSON reader can parse (nested deeper than Python's recursion limit) is a 400
# in both frameworks: FastAPI answers it itself ("There was an error parsing the body")
# before any validation, where every other row is its 422.
UNPARSABLE = {"50,000 nested lists"}

# Inputs at the edge of what is allowed: stored, and read back exactly as sent.
MUST_ACCEPT: list[tuple[str, dict]] = [
    ("metadata just under 16 KB", {"name": "edge", "metadata": {"blob": "x" * 16_000}}),
    ("metadata nested 10 deep", {"name": "edge", "metadata": json.loads('{"a": ' * 10 + "1" + "}" * 10)}),
    ("the largest 64-bit integers", {"name": "edge", "metadata": {"max": 2**63 - 1, "min": -(2**63)}}),
    ("large and tiny floats", {"name": "edge", "metadata": {"big": 1.5e308, "tiny": 5e-324, "neg": -2.5}}),
    ("characters beyond the BMP, a NUL in a value", {"name": "edge 🚀 ü", "metadata": {"k": "a\u0000b 🚀"}}),
    ("a '$' inside a key, not at its start", {"name": "edge", "metadata": {"price$": 1}}),
]


PATIENT = 60.0  # seconds: a first request to a fresh API on a loaded laptop can take 30


def post_raw(http: httpx.Client, path: str, text: str) -> httpx.Response:
    """POST a JSON text as typed: the client's own encoder would refuse NaN or rewrite escapes."""
    return http.post(path, content=text.encode(), headers={"Content-Type": "application/json"})


def check_must_refuse(
    base_url: str, *, bad_input: tuple[int, ...] = BAD_INPUT, paths: tuple[str, ...] | None = None
) -> int:
    """Every row of MUST_REFUSE whose path the lab serves (`paths`, default: all) is bad input,
    answered in a small JSON body. Returns how many rows were sent."""
    rows = [row for row in MUST_REFUSE if paths is None or row[1] in paths]
    wrong = []
    with local_http.client(base_url, timeout=PATIENT) as http:
        for what, path, text in rows:
            reply = post_raw(http, path, text)
            if reply.status_code == 501:
                fail_if_not_started(reply.text)
            if reply.status_code not in (bad_input if what not in UNPARSABLE else (*bad_input, 400)):
                wrong.append(f"{what} (POST {path}): {reply.status_code} {reply.text[:120]}")
            elif len(reply.content) > 4_000:
                wrong.append(f"{what} (POST {path}): a {len(reply.content)}-byte answer echoes the input")
    assert not wrong, f"expected {' or '.join(map(str, bad_input))} for each of:\n  " + "\n  ".join(wrong)
    return len(rows)


def every_item(http: httpx.Client, page: int = 100) -> list[dict]:
    """GET /api/items page by page until a short page: every item, and no page may fail."""
    items: list[dict] = []
    while True:
        reply = http.get("/api/items", params={"skip": len(items), "limit": page})
        assert reply.status_code == 200, (
            f"GET /api/items?skip={len(items)}&limit={page} answered {reply.status_code}: {reply.text[:200]}"
        )
        batch = reply.json()
        items += batch
        if len(batch) < page:
            return items


def check_hostile_items_leave_every_page_readable(base_url: str, *, bad_input: tuple[int, ...] = BAD_INPUT) -> None:
    """Send every hostile item and every edge case, then read every page and every item back:
    no 5xx, nothing stored that cannot be read, the edge cases exactly as sent."""
    with local_http.client(base_url, timeout=PATIENT) as http:
        for what, path, text in MUST_REFUSE:
            if path == "/api/items":
                reply = post_raw(http, path, text)
                assert reply.status_code < 500, f"{what}: {reply.status_code} {reply.text[:200]}"
        stored = {}
        for what, item in MUST_ACCEPT:
            reply = post_raw(http, "/api/items", json.dumps(item))
            check_response(reply, expected=201)
            stored[reply.json()["id"]] = (what, item)
        listed = {item["id"]: item for item in every_item(http)}
        for item_id, (what, sent) in stored.items():
            assert item_id in listed, f"{what}: stored, but not on any page of GET /api/items"
            one = check_response(http.get(f"/api/items/{item_id}"), expected=200).json()
            for got in (listed[item_id], one):
                assert (got["name"], got["metadata"]) == (sent["name"], sent["metadata"]), (
                    f"{what}: read back {got['name']!r}, {str(got['metadata'])[:120]}, not what was sent"
                )
