"""The shapes of requests and answers: the HTTP contract, written as types.

FastAPI validates every request body against these models and answers 422
with the reasons when one does not fit, before any of our code runs.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, field_validator, model_validator

MAX_DATA_LENGTH = 10_000
MAX_ITERATIONS = 1_000
# The result lists one processed item per iteration (each about as long as
# `data`): bounded, so one task never writes megabytes to Redis and MongoDB.
MAX_RESULT_CHARACTERS = 1_000_000

Priority = Literal["low", "normal", "high"]


# --- strings MongoDB and UTF-8 can store ---------------------------------------

# JSON may carry a lone surrogate ("\ud800": half of a character, not a
# character). Python keeps it in a str, but it cannot be encoded as UTF-8:
# storing it in MongoDB or Redis, or even writing it back in a JSON answer,
# fails deep in a driver (a 500). MongoDB also refuses NUL in field names.
# Both are bad input: 422, said in one line, before our code runs.


def _check_text(value: str, what: str = "text") -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{what} holds a lone surrogate (not a character): send valid UTF-8") from None
    return value


def _check_plain_text(value: str) -> str:
    _check_text(value)
    if "\x00" in value:
        raise ValueError("text holds a NUL character: send text without it")
    return value


def _check_key(key: str) -> None:
    _check_text(key, "a metadata key")
    if "\x00" in key:
        raise ValueError("a metadata key holds a NUL character, which MongoDB cannot store")
    if key.startswith("$") or "." in key:
        raise ValueError("a metadata key starts with '$' or holds a '.', which MongoDB reads as operators and paths")


StoredText = Annotated[str, AfterValidator(_check_plain_text)]


# --- items: plain synchronous CRUD on MongoDB --------------------------------

# MongoDB stores 64-bit integers and nests documents at most 100 deep (we allow
# less): anything beyond is bad input (422), caught here before it reaches the
# driver, where it would be an OverflowError or an OperationFailure (a 500).
# Metadata is small (MAX_METADATA_BYTES as JSON), so a page of items stays small too.
INT64 = (-(2**63), 2**63 - 1)
MAX_METADATA_DEPTH = 10
MAX_METADATA_BYTES = 16 * 1024


def _check_json_for_mongodb(value: Any, depth: int = 0) -> None:
    if depth > MAX_METADATA_DEPTH:
        raise ValueError(f"metadata nests deeper than {MAX_METADATA_DEPTH} levels")
    if isinstance(value, bool):
        return
    if isinstance(value, float) and not math.isfinite(value):
        # json reads NaN, Infinity and 1e400 as floats no JSON answer can carry.
        raise ValueError("metadata holds a number JSON cannot carry (NaN, Infinity, 1e400)")
    if isinstance(value, int) and not INT64[0] <= value <= INT64[1]:
        raise ValueError("metadata holds an integer larger than MongoDB's 64 bits")
    if isinstance(value, str):
        _check_text(value, "a metadata value")
    if isinstance(value, dict):
        for key in value:
            _check_key(key)
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for child in children:
        _check_json_for_mongodb(child, depth + 1)


class ItemCreate(BaseModel):
    name: StoredText = Field(min_length=1, max_length=200)
    description: StoredText | None = Field(default=None, max_length=2_000)
    metadata: dict[str, Any] = Field(
        default_factory=dict, description=f"any JSON object, up to {MAX_METADATA_BYTES} bytes"
    )

    @field_validator("metadata")
    @classmethod
    def fits_in_mongodb(cls, value: dict[str, Any]) -> dict[str, Any]:
        _check_json_for_mongodb(value)  # first: a surrogate would break json.dumps below
        size = len(json.dumps(value, ensure_ascii=False).encode("utf-8"))
        if size > MAX_METADATA_BYTES:
            raise ValueError(f"metadata is {size} bytes as JSON, over the limit of {MAX_METADATA_BYTES}")
        return value


class Item(ItemCreate):
    id: str
    created_at: datetime
    updated_at: datetime


# --- background work --------------------------------------------------------


class ProcessRequest(BaseModel):
    data: StoredText = Field(min_length=1, max_length=MAX_DATA_LENGTH, description="the text to process")
    iterations: int = Field(default=10, ge=1, le=MAX_ITERATIONS)
    priority: Priority = "normal"

    @model_validator(mode="after")
    def result_stays_small(self) -> ProcessRequest:
        if len(self.data) * self.iterations > MAX_RESULT_CHARACTERS:
            raise ValueError(
                f"data of {len(self.data)} characters x {self.iterations} iterations is over "
                f"{MAX_RESULT_CHARACTERS} characters of result: send less data or fewer iterations"
            )
        return self


EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
Email = Annotated[StoredText, Field(max_length=254, pattern=EMAIL_PATTERN)]
Name = Annotated[StoredText, Field(min_length=1, max_length=100)]


class WelcomeEmailRequest(BaseModel):
    email: Email
    name: Name


class TaskAccepted(BaseModel):
    """The 202 answer: the work is queued, here is where to follow it."""

    task_id: str
    status: Literal["PENDING"] = "PENDING"
    message: str


class ErrorDetail(BaseModel):
    """Every error but a 422: one line saying what is wrong and what to do."""

    detail: str


class TaskStatus(BaseModel):
    task_id: str
    status: str  # PENDING, STARTED, PROGRESS, RETRY, SUCCESS or FAILURE
    progress: dict[str, Any] | None = Field(
        default=None, description="while PROGRESS: {current, total, percent, message}"
    )
    result: Any = None
    error: str | None = None


# --- health -------------------------------------------------------------------


class Health(BaseModel):
    status: Literal["healthy", "degraded"]
    services: dict[str, str]  # name -> "ok" or "down: <why>"
    down: list[str] = Field(default_factory=list)
