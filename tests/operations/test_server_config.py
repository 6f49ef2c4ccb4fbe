"""The gunicorn configuration of ``mamori serve`` (docs/operations/server.md)."""

from __future__ import annotations

import socket

import pytest

from mamori.operations.server import Bind, MamoriServer


def _server() -> MamoriServer:
    return MamoriServer(bind=Bind("127.0.0.1", 8000), workers=2, threads=4)


def test_each_worker_listens_on_its_own_reuse_port_socket():
    """SO_REUSEPORT: the kernel spreads connections over the workers (keep-alive ones stay put)."""
    server = _server()
    assert server.cfg.reuse_port is True
    assert server.cfg.worker_class_str == "gthread"
    assert (server.cfg.workers, server.cfg.threads) == (2, 4)


@pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="no SO_REUSEPORT on this platform")
def test_reuse_port_sockets_share_the_port():
    """What the workers rely on: two sockets with SO_REUSEPORT listen on the same port."""
    first = socket.socket()
    second = socket.socket()
    try:
        for sock in (first, second):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        first.bind(("127.0.0.1", 0))
        first.listen()
        second.bind(("127.0.0.1", first.getsockname()[1]))
        second.listen()
    finally:
        first.close()
        second.close()


def test_preload_loads_the_application_and_its_urlconf_once_before_forking():
    from django.urls import clear_url_caches, get_resolver

    server = _server()
    assert server.cfg.preload_app is True
    assert server.cfg.max_requests == 0  # workers are not recycled (they would start cold)
    clear_url_caches()
    assert "url_patterns" not in get_resolver().__dict__
    clear_url_caches()
    application = server.load()
    assert callable(application)
    resolver = get_resolver()
    assert "url_patterns" in resolver.__dict__  # the URLconf is imported already (cached_property)
