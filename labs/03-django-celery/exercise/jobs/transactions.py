"""Run a block in a MongoDB transaction, again when MongoDB asks for it, and never leave the connection broken.

`django_mongodb_backend.transaction.atomic()` is a real MongoDB transaction
(Django's own `django.db.transaction.atomic()` does nothing on this backend).
Two things can go wrong when it commits, and its 5.2 release handles neither:

- MongoDB may refuse a write or the commit with a *transient* error (label
  TransientTransactionError, such as a WriteConflict: two requests creating
  the same collection at the same moment). MongoDB's advice is to run the
  whole transaction again.
- The refused commit raises a pymongo error, not a Django DatabaseError, so
  atomic() does not close the session: this thread's next atomic() would find
  it still open, start no transaction, and fail at its commit ("No transaction
  started"), and so would every later request served by this thread.
"""

from __future__ import annotations

from collections.abc import Callable

import pymongo.errors
from django.db import DatabaseError, connection
from django_mongodb_backend import transaction

ATTEMPTS = 3


def atomically(block: Callable[[], None]) -> None:
    """Run `block` inside transaction.atomic(); its on_commit callbacks run once it committed."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with transaction.atomic():
                block()
            return
        except (pymongo.errors.PyMongoError, DatabaseError) as exc:
            _close_failed_session()
            if not _transient(exc) or attempt == ATTEMPTS:
                raise


def _transient(exc: BaseException) -> bool:
    """MongoDB's "run the transaction again" label, on the error or on the one the ORM wrapped."""
    error = exc if isinstance(exc, pymongo.errors.PyMongoError) else exc.__cause__
    return isinstance(error, pymongo.errors.OperationFailure) and error.has_error_label("TransientTransactionError")


def _close_failed_session() -> None:
    """What atomic() should have done after a refused commit: end the session, drop the callbacks."""
    if connection.session is not None:
        connection.session.end_session()  # aborts the transaction if it is still open
        connection.session = None
    connection.in_atomic_block_mongo = False
    connection.nested_atomics = 0
    connection.run_on_commit = []
