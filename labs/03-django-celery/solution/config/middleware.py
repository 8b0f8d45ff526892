"""The project's middleware: plain Django middleware, each a callable that wraps get_response.

- InstanceHeader: every answer says which API process answered (`X-Instance`).
  Behind a load balancer (`make scale LAB=03`: nginx in front of three copies
  of this API) it shows requests spreading over the replicas. The name comes
  from INSTANCE_NAME (the scale runner sets one per replica), else this
  process's id: never the machine's host name, which is no client's business.
- BodySizeLimit: 413 before anything reads a body over MAX_BODY_BYTES.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.http import JsonResponse

from config.exceptions import MAX_BODY_BYTES


class InstanceHeader:
    def __init__(self, get_response):
        self.get_response = get_response
        self.name = settings.INSTANCE_NAME or f"pid-{os.getpid()}"  # built in each gunicorn worker process

    def __call__(self, request):
        response = self.get_response(request)
        response["X-Instance"] = self.name
        return response


class BodySizeLimit:
    """Middleware: a request that announces a body over MAX_BODY_BYTES gets 413 before anything reads it.

    A body that does not announce its size is read by Django up to
    DATA_UPLOAD_MAX_MEMORY_SIZE (the same number, in settings), and
    exception_handler answers 413 for RequestDataTooBig.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
            return JsonResponse({"detail": f"the request body is over {MAX_BODY_BYTES} bytes"}, status=413)
        return self.get_response(request)
