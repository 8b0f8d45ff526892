"""The contract's paths under /api, without trailing slashes.

The items are a resource: DRF's router makes their routes from the ViewSet
(`trailing_slash=False` keeps the contract's /api/items and /api/items/{id};
Django cannot redirect a POST to a slashed URL). The task routes are actions,
not resources: plain paths to their views.
"""

from django.urls import path
from rest_framework.routers import SimpleRouter

from jobs import views

router = SimpleRouter(trailing_slash=False)
router.register("items", views.ItemViewSet, basename="item")  # item-list, item-detail

urlpatterns = [
    *router.urls,
    path("async/process", views.ProcessSubmit.as_view(), name="task-submit"),
    path("async/status/<str:task_id>", views.TaskStatusView.as_view(), name="task-status"),
    path("send-welcome-email", views.WelcomeEmail.as_view(), name="welcome-email"),
    path("digests/latest", views.LatestDigest.as_view(), name="digest-latest"),
]
