"""Which replica answered: every response carries an `X-Instance` header.

Behind a load balancer (`make scale LAB=02`: nginx in front of three copies
of this API) the header shows requests spreading over the replicas. The name
comes from INSTANCE_NAME (the scale runner sets it), else this machine's
hostname and the port the server listens on (a container's hostname is its
own, so replicas in docker compose differ too).
"""

from __future__ import annotations

import socket

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class InstanceHeader:
    """A pure ASGI middleware (no BaseHTTPMiddleware): it only adds one header to the response start."""

    def __init__(self, app: ASGIApp, name: str = ""):
        self.app, self.name = app, name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        name = self.name or f"{socket.gethostname()}:{(scope.get('server') or ('', '?'))[1]}"

        async def send_named(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("X-Instance", name)
            await send(message)

        await self.app(scope, receive, send_named)
