"""Your own task, end to end: POST /api/send-welcome-email queues a welcome email.

The address and name come as JSON, `{"email": ..., "name": ...}`, or as the walkthrough's
query parameters: `POST /api/send-welcome-email?user_email=ada@example.com&user_name=Ada`.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, Response, status

from app.api.deps import BrokerDep, RedisDep
from app.api.routes.tasks import enqueue
from app.schemas import Email, ErrorDetail, Name, TaskAccepted, WelcomeEmailRequest

router = APIRouter(
    prefix="/api",
    tags=["email"],
    responses={503: {"model": ErrorDetail, "description": "RabbitMQ or Redis did not answer in time"}},
)


@router.post("/send-welcome-email", status_code=status.HTTP_202_ACCEPTED, response_model=TaskAccepted)
async def send_welcome_email_endpoint(
    broker: BrokerDep,
    redis: RedisDep,
    response: Response,
    body: WelcomeEmailRequest | None = None,
    user_email: Email | None = Query(default=None, description="instead of the body: the address"),
    user_name: Name | None = Query(default=None, description="instead of the body: the name"),
) -> TaskAccepted:
    """Answer 202 at once; a worker 'sends' the email from the emails queue."""
    if body is None:
        if user_email is None or user_name is None:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                'send {"email": ..., "name": ...} as JSON, or the query parameters user_email and user_name',
            )
        body = WelcomeEmailRequest(email=user_email, name=user_name)
    # BEGIN EXERCISE 2.6
    kwargs = {"email": body.email, "name": body.name}
    return await enqueue(
        broker, redis, response, "emails.send_welcome", kwargs=kwargs, what=f"Welcome email to {body.email}"
    )
    # END EXERCISE 2.6
