"""Django's own apps (admin, auth, contenttypes), told to use MongoDB's ObjectId keys.

Their AppConfigs say `default_auto_field = "django.db.models.AutoField"`, an
integer key MongoDB does not generate; DEFAULT_AUTO_FIELD in settings does not
override an AppConfig that sets its own. So the project declares these
subclasses (django-mongodb-backend's project template does the same; the
package does not ship them) and lists them in INSTALLED_APPS, and the
migrations written for them live in mongo_migrations/ (MIGRATION_MODULES).
"""

from django.contrib.admin.apps import AdminConfig
from django.contrib.auth.apps import AuthConfig
from django.contrib.contenttypes.apps import ContentTypesConfig

OBJECT_ID = "django_mongodb_backend.fields.ObjectIdAutoField"


class MongoAdminConfig(AdminConfig):
    default_auto_field = OBJECT_ID


class MongoAuthConfig(AuthConfig):
    default_auto_field = OBJECT_ID


class MongoContentTypesConfig(ContentTypesConfig):
    default_auto_field = OBJECT_ID
