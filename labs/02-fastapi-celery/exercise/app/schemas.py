"""The shapes of requests and answers: the HTTP contract, written as types.

FastAPI validates every request body against these models and answers 422
with the reasons when one does not fit, before any of our code runs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

MAX_DATA_LENGTH = 10_000
MAX_ITERATIONS = 1_000

Priority = Literal["low", "normal", "high"]


# --- items: plain synchronous CRUD on MongoDB --------------------------------

class ItemCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2_000)
    metadata: dict[str, Any] = Field(default_factory=dict)


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
