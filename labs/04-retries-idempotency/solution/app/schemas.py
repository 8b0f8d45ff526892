"""The shapes of requests and answers: lab 02's contract, plus attempts and dead letters."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Priority = Literal["low", "normal", "high"]


class ProcessRequest(BaseModel):
    data: str = Field(min_length=1, max_length=10_000, description="the text to process")
    iterations: int = Field(default=10, ge=1, le=1_000, description="rounds of work, and the amount charged")
    priority: Priority = "normal"


class TaskAccepted(BaseModel):
    """The 202 answer: RabbitMQ has confirmed the task; here is where to follow it."""

    task_id: str
    status: Literal["PENDING"] = "PENDING"
    message: str


class TaskStatus(BaseModel):
    task_id: str
    status: str  # PENDING, STARTED, RETRY, SUCCESS or FAILURE
    attempts: int = Field(
        default=0, description="how many times a worker started the task (retries + 1, redeliveries included)"
    )
    result: Any = None
    error: str | None = None
    history: list[dict[str, Any]] = Field(default_factory=list, description="one entry per attempt: the timeline")


class DeadLetter(BaseModel):
    task_id: str
    task: str | None
    reason: str  # RabbitMQ's: rejected, expired, maxlen, delivery_limit
    queue: str | None
    died_at: str | None
    error: str | None = Field(default=None, description="the task's last error, from the result backend")


class DeadLetters(BaseModel):
    count: int
    dead_letters: list[DeadLetter]


class Health(BaseModel):
    status: Literal["healthy", "degraded"]
    services: dict[str, str]
    down: list[str] = Field(default_factory=list)
