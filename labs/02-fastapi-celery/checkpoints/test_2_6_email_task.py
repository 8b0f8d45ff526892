"""Exercise 2.6: the welcome email task is named, routed, and retries only what is worth retrying."""

import pytest


@pytest.mark.exercise("2.6")
def test_email_task_is_named_routed_and_retried_sensibly(celery_app):
    from app.tasks import send_welcome_email

    assert send_welcome_email.name == "emails.send_welcome", (
        f"the task is called {send_welcome_email.name!r}: name it domain.action, emails.send_welcome"
    )
    routed = celery_app.amqp.router.route({}, send_welcome_email.name)["queue"].name
    assert routed == "emails", f"emails.send_welcome goes to queue {routed!r}, expected 'emails'"
    retried = tuple(getattr(send_welcome_email, "autoretry_for", ()) or ())
    assert retried, "retry a temporary failure automatically: autoretry_for=(services.EmailServiceUnavailable,)"
    too_broad = [exc.__name__ for exc in retried if exc in (Exception, BaseException)]
    assert not too_broad, f"autoretry_for={too_broad}: that retries programming errors too; name the temporary error"
    assert send_welcome_email.retry_backoff, "retries need a growing delay: retry_backoff"
    assert send_welcome_email.retry_jitter, "retries need jitter, so they do not all come back at once: retry_jitter"
    assert send_welcome_email.max_retries is not None, "give up some time: max_retries"
