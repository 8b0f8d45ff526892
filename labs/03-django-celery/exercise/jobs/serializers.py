"""The contract's shapes as DRF serializers: they validate input (400 with reasons) and shape output.

Limits are the same as lab 02's schemas.py, so both APIs refuse the same input.
"""

from __future__ import annotations

import json
import math
from typing import Any

from rest_framework import serializers

from jobs.models import Digest, Item

MAX_DATA_LENGTH = 10_000
MAX_ITERATIONS = 1_000
# The result lists one processed item per iteration (each about as long as
# `data`): bounded, so one task never writes megabytes to Redis and MongoDB.
MAX_RESULT_CHARACTERS = 1_000_000
PRIORITIES = ("low", "normal", "high")

# What MongoDB (BSON) or a JSON answer cannot hold is bad input, refused here
# with a 400 before it is stored: stored, it would break every page that lists
# it. The same limits as lab 02's schemas.py, so both APIs refuse the same input.
INT64 = (-(2**63), 2**63 - 1)
MAX_METADATA_DEPTH = 10
MAX_METADATA_BYTES = 16 * 1024  # metadata as JSON: a page of 100 items stays small


def storable_text(value: str) -> str:
    """UTF-8 encodable: no lone surrogate such as "\\ud800" (half a character)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise serializers.ValidationError("text must be valid Unicode (no lone surrogates)") from None
    return value


def storable_key(key: str) -> None:
    storable_text(key)
    if "\x00" in key or key.startswith("$") or "." in key:
        raise serializers.ValidationError(f"metadata key {key[:40]!r}: no NUL, no '$' at the start, no '.'")


def check_json_for_mongodb(value: Any, depth: int = 0) -> None:
    if depth > MAX_METADATA_DEPTH:
        raise serializers.ValidationError(f"metadata nests deeper than {MAX_METADATA_DEPTH} levels")
    if isinstance(value, float) and not math.isfinite(value):
        # json reads 1e400 as inf: MongoDB would store it, no JSON answer could carry it.
        raise serializers.ValidationError("metadata holds a number JSON cannot carry (NaN, Infinity, 1e400)")
    if isinstance(value, int) and not isinstance(value, bool) and not INT64[0] <= value <= INT64[1]:
        raise serializers.ValidationError("metadata holds an integer larger than MongoDB's 64 bits")
    if isinstance(value, str):
        storable_text(value)
    elif isinstance(value, dict):
        for key, child in value.items():
            storable_key(key)
            check_json_for_mongodb(child, depth + 1)
    elif isinstance(value, list):
        for child in value:
            check_json_for_mongodb(child, depth + 1)


def check_metadata_size(value: dict[str, Any]) -> None:
    size = len(json.dumps(value, ensure_ascii=False).encode("utf-8"))
    if size > MAX_METADATA_BYTES:
        raise serializers.ValidationError(f"metadata is {size} bytes as JSON, over the limit of {MAX_METADATA_BYTES}")


class ItemSerializer(serializers.ModelSerializer):
    # TODO Exercise 3.2: The Item model and its serializer, with string ids. Item needs
    # description, metadata, created_at and updated_at besides name, newest first. Its
    # serializer must show the ObjectId primary key as a string, and refuse what MongoDB
    # cannot store with a 400.
    # `make hint EX=3.2` shows more hints; `make check LAB=03` grades your work.
    pass

    class Meta:
        model = Item
        fields = "__all__"  # id, name, description, metadata, created_at, updated_at (auto: read-only)


class ListQuerySerializer(serializers.Serializer):
    skip = serializers.IntegerField(min_value=0, max_value=1_000_000, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=100, default=50)


class ProcessRequestSerializer(serializers.Serializer):
    data = serializers.CharField(
        min_length=1, max_length=MAX_DATA_LENGTH, trim_whitespace=False, validators=[storable_text]
    )
    iterations = serializers.IntegerField(min_value=1, max_value=MAX_ITERATIONS, default=10)
    priority = serializers.ChoiceField(choices=PRIORITIES, default="normal")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if len(attrs["data"]) * attrs["iterations"] > MAX_RESULT_CHARACTERS:
            raise serializers.ValidationError(
                f"data of {len(attrs['data'])} characters x {attrs['iterations']} iterations is over "
                f"{MAX_RESULT_CHARACTERS} characters of result: send less data or fewer iterations"
            )
        return attrs


class WelcomeEmailSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    name = serializers.CharField(min_length=1, max_length=100, validators=[storable_text])


class TaskAcceptedSerializer(serializers.Serializer):
    """The 202 answer: the work is queued, here is where to follow it."""

    task_id = serializers.CharField()
    status = serializers.CharField(default="PENDING")
    message = serializers.CharField()


class TaskStatusSerializer(serializers.Serializer):
    task_id = serializers.CharField()
    status = serializers.CharField(help_text="PENDING, STARTED, PROGRESS, RETRY, SUCCESS or FAILURE")
    progress = serializers.DictField(required=False, help_text="while PROGRESS: {current, total, percent, message}")
    result = serializers.JSONField(required=False)
    error = serializers.CharField(required=False)


class DigestSerializer(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)

    class Meta:
        model = Digest
        fields = ["id", "created_at", "since", "finished", "by_task", "queue"]


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["healthy", "degraded"])
    services = serializers.DictField(child=serializers.CharField())
    down = serializers.ListField(child=serializers.CharField())
