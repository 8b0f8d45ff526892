"""HTTP clients for the servers on this machine: the labs' APIs, RabbitMQ's management API.

httpx makes a TLS context for every client, and loads a bundle of CA certificates into it, which
takes tens of milliseconds each time (encode/httpx#3627), although plain HTTP to 127.0.0.1 never
uses it. Grading opens a client per check (about twenty for one exercise), so every client made
here shares one context, made the first time one is needed.
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()


def client(base_url: str = "", **options) -> httpx.Client:
    """httpx.Client(base_url, **options), without a TLS context of its own."""
    return httpx.Client(base_url=base_url, verify=_tls(), **options)
