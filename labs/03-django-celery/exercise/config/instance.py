"""Which replica answered: every response carries an `X-Instance` header.

Behind a load balancer (`make scale LAB=03`: nginx in front of three copies
of this API) the header shows requests spreading over the replicas. The name
comes from INSTANCE_NAME (the scale runner sets it), else this machine's
hostname (a container's hostname is its own, so compose replicas differ too).
A Django middleware in its plain form: a factory that wraps get_response.
"""

from __future__ import annotations

import socket

from django.conf import settings


def instance_header(get_response):
    name = settings.INSTANCE_NAME or socket.gethostname()

    def middleware(request):
        response = get_response(request)
        response["X-Instance"] = name
        return response

    return middleware
