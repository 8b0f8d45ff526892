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
    # TODO Exercise 2.6: Your own task: send a welcome email. Two places. In
    # app/tasks.py: a bound task named "emails.send_welcome" that calls
    # services.send_welcome_email(sync_database()[OUTBOX], self.request.id, email, name,
    # seconds=settings.EMAIL_SECONDS) and retries ONLY services.EmailServiceUnavailable,
    # with backoff and jitter. In app/api/routes/email.py: queue it with enqueue(...)
    # like submit_process does.
    # `make hint EX=2.6` shows more hints; `make check LAB=02` grades your work.
    raise NotImplementedError("Exercise 2.6 is not done yet: Your own task: send a welcome email")
