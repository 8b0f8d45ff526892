"""Every URL of the project. The contract's paths have NO trailing slash (jobs/urls.py)."""

from django.contrib import admin
from django.contrib.staticfiles.views import serve as serve_static
from django.http import JsonResponse
from django.urls import include, path, re_path
from django.views.decorators.http import require_safe
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from jobs.health import Health


@require_safe  # GET and HEAD only: TRACE and the rest are a 405
def index(request):
    return JsonResponse({"docs": "/docs", "health": "/health", "submit": "POST /api/async/process", "admin": "/admin/"})


urlpatterns = [
    path("", index),
    path("health", Health.as_view(), name="health"),
    path("api/", include("jobs.urls")),
    path("admin/", admin.site.urls),
    path("api/schema", SpectacularAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("redoc", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    # The admin's and Swagger UI's CSS and JavaScript, served by Django itself
    # (fine for a workshop; a production site lets its web server or WhiteNoise do it).
    re_path(r"^static/(?P<path>.*)$", require_safe(serve_static), {"insecure": True}),
]

handler400 = "config.exceptions.bad_request"
handler404 = "config.exceptions.not_found"
handler500 = "config.exceptions.server_error"
