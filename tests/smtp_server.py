"""A real SMTP server on loopback (aiosmtpd) for the mail tests: the messages Mamori sends
arrive over TCP exactly as at a provider's relay. One copy for every app's mail tests."""

from __future__ import annotations

import contextlib
import email
import signal
import socket
from collections.abc import Iterator
from email import policy

import pytest


class Inbox:
    """aiosmtpd handler keeping every accepted message; recipients in ``refuse`` get 550."""

    def __init__(self, refuse: tuple[str, ...] = ()):
        self.refuse = set(refuse)
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 — aiosmtpd's hook
        if address in self.refuse:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 — aiosmtpd's hook name
        self.messages.append((list(envelope.rcpt_tos),
                              email.message_from_bytes(envelope.content, policy=policy.default)))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def loopback_smtp(settings, handler=None) -> Iterator:
    """Start the server with ``handler`` (default: a new :class:`Inbox`), point Django's SMTP
    backend at it, yield the handler, stop the server."""
    controller_module = pytest.importorskip("aiosmtpd.controller")
    handler = handler if handler is not None else Inbox()
    controller = controller_module.Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10
    try:
        yield handler
    finally:
        controller.stop()


@contextlib.contextmanager
def signal_handlers_kept() -> Iterator[None]:
    """``mamori worker`` run in-process installs SIGINT/SIGTERM handlers; put pytest's back."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
