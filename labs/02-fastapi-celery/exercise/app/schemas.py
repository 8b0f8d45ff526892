"""The shapes of requests and answers: the HTTP contract, written as types.

FastAPI validates every request body against these models and answers 422
with the reasons when one does not fit, before any of our code runs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

MAX_DATA_LENGTH = 10_000
MAX_ITERATIONS = 1_000

Priority = Literal["low", "normal", "high"]


# --- items: plain synchronous CRUD on MongoDB --------------------------------

# MongoDB stores 64-bit integers and nests documents at most 100 deep (we allow
# less): anything beyond is bad input (422), caught here before it reaches the
# driver, where it would be an OverflowError or an OperationFailure (a 500).
INT64 = (-(2**63), 2**63 - 1)
MAX_METADATA_DEPTH = 10


def _check_json_for_mongodb(value: Any, depth: int = 0) -> None:
    if depth > MAX_METADATA_DEPTH:
        raise ValueError(f"metadata nests deeper than {MAX_METADATA_DEPTH} levels")
    if isinstance(value, bool):
        return
    if isinstance(value, int) and not INT64[0] <= value <= INT64[1]:
        raise ValueError("metadata holds an integer larger than MongoDB's 64 bits")
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for child in children:
        _check_json_for_mongodb(child, depth + 1)


class ItemCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2_000)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("metadata")
    @classmethod
    def fits_in_mongodb(cls, value: dict[str, Any]) -> dict[str, Any]:
        _check_json_for_mongodb(value)
        return value


class Item(ItemCreate):
    id: str
    created_at: datetime
    updated_at: datetime


# --- background work --------------------------------------------------------


class ProcessRequest(BaseModel):
    data: str = Field(min_length=1, max_length=MAX_DATA_LENGTH, description="the text to process")
    iterations: int = Field(default=10, ge=1, le=MAX_ITERATIONS)
    priority: Priority = "normal"


class WelcomeEmailRequest(BaseModel):
    email: str = Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    name: str = Field(min_length=1, max_length=100)


class TaskAccepted(BaseModel):
    """The 202 answer: the work is queued, here is where to follow it."""

    task_id: str
    status: Literal["PENDING"] = "PENDING"
    message: str


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
