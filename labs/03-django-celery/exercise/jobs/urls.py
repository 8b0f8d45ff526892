"""The contract's paths under /api, without trailing slashes."""

from django.urls import path

from jobs import views

urlpatterns = [
    path("items", views.ItemListCreate.as_view(), name="item-list"),
    path("items/<str:item_id>", views.ItemDetail.as_view(), name="item-detail"),
    path("async/process", views.ProcessSubmit.as_view(), name="task-submit"),
    path("async/status/<str:task_id>", views.TaskStatusView.as_view(), name="task-status"),
    path("send-welcome-email", views.WelcomeEmail.as_view(), name="welcome-email"),
    path("digests/latest", views.LatestDigest.as_view(), name="digest-latest"),
]
