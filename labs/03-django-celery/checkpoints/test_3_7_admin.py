"""Exercise 3.7: a staff user logs in to the real server's admin and finds the items and task results."""

import re
import uuid

import httpx
import pytest


def log_in(http: httpx.Client, username: str, password: str) -> None:
    page = http.get("/admin/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token, f"no login form at /admin/login/ (status {page.status_code})"
    done = http.post(
        "/admin/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token.group(1), "next": "/admin/"},
    )
    assert done.status_code == 302, f"logging in answered {done.status_code}, not a redirect: wrong password?"


@pytest.mark.exercise("3.7")
def test_the_admin_shows_items_and_task_results(api, django_ready):
    from django.contrib.auth import get_user_model
    from jobs import services
    from jobs.models import Item

    # No `migrate` here: earlier checkpoints already wrote to this database, and
    # MongoDB creates a collection on its first insert.
    username, password = f"trainer-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    get_user_model().objects.create_superuser(username, f"{username}@example.com", password)
    item = Item.objects.create(name=f"seen in the admin {uuid.uuid4().hex[:6]}")
    task_id = str(uuid.uuid4())
    services.store_result(task_id, "reports.process", {"total": 1})

    with httpx.Client(base_url=api, timeout=10) as http:
        log_in(http, username, password)
        items = http.get("/admin/jobs/item/")
        assert items.status_code == 200, f"/admin/jobs/item/ answered {items.status_code}: register Item with the admin"
        assert item.name in items.text, "the item list in the admin does not show the new item"
        results = http.get("/admin/jobs/taskresult/")
        assert results.status_code == 200, (
            f"/admin/jobs/taskresult/ answered {results.status_code}: register TaskResult with the admin"
        )
        assert task_id in results.text, "the task results in the admin do not show the stored result"
