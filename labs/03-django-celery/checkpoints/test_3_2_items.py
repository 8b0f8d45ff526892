"""Exercise 3.2: items with string ids, the contract's CRUD, and input MongoDB cannot store refused with 400."""

import re

import httpx
import pytest

from queuelabs.testing import contract
from queuelabs.testing.checks import check_response, patience


@pytest.mark.exercise("3.2")
def test_items_crud_follows_the_contract(api):
    contract.check_items_crud(api, bad_input=(400,))


@pytest.mark.exercise("3.2")
def test_ids_are_strings_and_times_are_what_was_stored(api):
    with httpx.Client(base_url=api, timeout=patience(10)) as http:
        created = check_response(http.post("/api/items", json={"name": "ids", "metadata": {"n": 1}}), expected=201)
        item = created.json()
        assert isinstance(item["id"], str) and re.fullmatch(r"[0-9a-f]{24}", item["id"]), (
            f"an item id should be the ObjectId as 24 hex characters: {item['id']!r}"
        )
        fetched = check_response(http.get(f"/api/items/{item['id']}"), expected=200).json()
        assert fetched == item, f"GET answered {fetched}, POST had answered {item} (milliseconds?)"


@pytest.mark.exercise("3.2")
@pytest.mark.parametrize(
    "payload",
    [
        {"name": "ok", "metadata": {"key\ud800": 1}},
        {"name": "ok", "metadata": {"a\u0000b": 1}},
        {"name": "ok", "metadata": {"big": 2**70}},
        {"name": "ok", "metadata": {"deep": [[[[[[[[[[[[1]]]]]]]]]]]]}},
    ],
    ids=["lone surrogate in a key", "NUL in a key", "integer over 64 bits", "nested too deep"],
)
def test_what_mongodb_cannot_store_is_400_not_500(api, payload):
    import json

    body = json.dumps(payload)  # ensure_ascii: a lone surrogate travels as \\ud800
    with httpx.Client(base_url=api, timeout=patience(10)) as http:
        response = http.post("/api/items", content=body, headers={"Content-Type": "application/json"})
    check_response(response, expected=400)
    assert "detail" in response.json(), f"errors are JSON with a detail: {response.text[:200]}"
