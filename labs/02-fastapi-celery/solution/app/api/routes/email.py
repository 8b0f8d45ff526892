"""Your own task, end to end: POST /api/send-welcome-email queues a welcome email."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from app.api.routes.tasks import enqueue
from app.schemas import TaskAccepted, WelcomeEmailRequest
from app.tasks import send_welcome_email

router = APIRouter()


@router.post("/send-welcome-email", status_code=status.HTTP_202_ACCEPTED, response_model=TaskAccepted)
async def send_welcome_email_endpoint(body: WelcomeEmailRequest, request: Request, response: Response) -> TaskAccepted:
    """Answer 202 at once; a worker 'sends' the email from the emails queue."""
    # BEGIN EXERCISE 2.6
    return await enqueue(
        request,
        response,
        send_welcome_email,
        kwargs={"email": body.email, "name": body.name},
        what=f"Welcome email to {body.email}",
    )
    # END EXERCISE 2.6
