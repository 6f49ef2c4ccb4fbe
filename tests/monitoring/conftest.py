"""Fixtures of the monitoring tests: a small SNTP server on loopback, provider staff."""

from __future__ import annotations

import socket
import struct
import threading
import time

import pytest

from mamori.audit.events import Actor
from mamori.tenancy.context import use_tenant

NTP_EPOCH_OFFSET = 2208988800


def _ntp(unix: float) -> tuple[int, int]:
    seconds = unix + NTP_EPOCH_OFFSET
    whole = int(seconds)
    return whole, int((seconds - whole) * 2**32)


class SntpServer:
    """Answers SNTP requests on 127.0.0.1 with its clock ``offset`` seconds ahead of ours.

    ``mode``: "ok" (a proper server reply), "garbage" (random bytes), "silent" (no reply),
    "kod" (kiss-o'-death, stratum 0), "wrong_origin" (does not echo our transmit time),
    "unsynchronised" (leap indicator 3)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.offset = 0.0
        self.mode = "ok"
        self.requests = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(512)
            except (TimeoutError, OSError):
                continue
            self.requests += 1
            received = time.time() + self.offset
            if self.mode == "silent":
                continue
            if self.mode == "garbage":
                self.sock.sendto(b"\x17not an ntp packet at all, just noise" + bytes(20), peer)
                continue
            if len(data) < 48:
                continue
            origin = struct.unpack("!II", data[40:48])
            if self.mode == "wrong_origin":
                origin = (origin[0], origin[1] ^ 0xFFFF)
            leap = 3 if self.mode == "unsynchronised" else 0
            stratum = 0 if self.mode == "kod" else 2
            flags = (leap << 6) | (4 << 3) | 4
            transmit = time.time() + self.offset
            reply = struct.pack("!BBbbIII", flags, stratum, 6, -20, 0, 0, 0x7F000001)
            reply += struct.pack("!II", *_ntp(received - 1)) + struct.pack("!II", *origin)
            reply += struct.pack("!II", *_ntp(received)) + struct.pack("!II", *_ntp(transmit))
            self.sock.sendto(reply, peer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def sntp_server():
    server = SntpServer()
    yield server
    server.close()


@pytest.fixture
def closed_udp_port() -> str:
    """A loopback UDP port nobody listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"127.0.0.1:{port}"


@pytest.fixture
def security_officer(db):
    from mamori.operations.actions import create_staff
    from mamori.operations.models import ProviderStaff

    with use_tenant(None):
        return create_staff(actor=Actor.system("test"), email="officer@provider.example",
                            password="provider staff passphrase 9", role=ProviderStaff.StaffRole.SECURITY_OFFICER)
