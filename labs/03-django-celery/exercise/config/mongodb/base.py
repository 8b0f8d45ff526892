"""django-mongodb-backend, with one fix: a commit MongoDB refuses no longer breaks the thread.

Given plumbing, not an exercise. In django-mongodb-backend 5.2.4, atomic() cleans
up after a failed commit only when the failure is a Django DatabaseError (the
upstream fix, INTPYTHON-950: https://github.com/mongodb/django-mongodb-backend/pull/525).
A commit that fails during a MongoDB outage raises PyMongo's own error instead:
the session stays open, and every later atomic() in the same gunicorn thread fails
with "No transaction started" until the process restarts. Here the session is
ended and the error raised as a DatabaseError, so atomic() rolls back as it should.
Delete this package (and DATABASES' ENGINE line in settings) once upstream does it.
"""

from __future__ import annotations

from django.db import DatabaseError
from django_mongodb_backend.base import DatabaseWrapper as MongoDatabaseWrapper
from pymongo.errors import PyMongoError


class DatabaseWrapper(MongoDatabaseWrapper):
    def commit_mongo(self):
        try:
            super().commit_mongo()
        except PyMongoError as exc:
            if self.session is not None:
                self.session.end_session()  # aborts what is left of the transaction
                self.session = None
            self.run_on_commit = []
            raise DatabaseError(str(exc)) from exc
