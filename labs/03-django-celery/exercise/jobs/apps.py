from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Queue Labs jobs"
    default_auto_field = "django_mongodb_backend.fields.ObjectIdAutoField"
