"""Malware scan of uploaded attachments through ClamAV's daemon (ASVS 5.0 V5.4.3).

Optional: with ``MAMORI_ATTACHMENT_SCANNER`` set to ``clamd://HOST:PORT`` or
``clamd:///path/to/clamd.sock``, every uploaded file is streamed to ``clamd``
(``zINSTREAM``: 4-byte big-endian length + chunk, a zero length to finish) *while*
it is encrypted and stored, so the scan adds no second pass and no memory. The
verdict decides before the attachment row exists: ``FOUND`` deletes the stored
file and refuses the upload (audited as ``attachment.malware_refused``); a daemon
that cannot be reached, times out or answers ``ERROR`` refuses the upload too
(fail closed: an unscanned file is never accepted once a scanner is configured).

clamd is the provider's component (its signatures need updates from the
internet); Mamori only speaks its documented protocol.
"""

from __future__ import annotations

import logging
import socket
import struct
from dataclasses import dataclass
from typing import IO
from urllib.parse import urlsplit

from django.conf import settings

logger = logging.getLogger("mamori.security")

# clamd refuses a stream over its StreamMaxLength (25 MiB by default) with "INSTREAM size limit
# exceeded": the provider raises it to at least the attachment limit. Chunks stay small.
CHUNK = 64 * 1024
MAX_REPLY = 4096


class ScanUnavailable(Exception):
    """The scanner could not give a verdict (unreachable, timeout, protocol error, ERROR)."""


@dataclass(frozen=True)
class Scanner:
    family: int  # socket.AF_INET / AF_UNIX
    address: object
    timeout: float

    def open(self) -> ClamdStream:
        return ClamdStream(self)


def configured_scanner() -> Scanner | None:
    """The scanner of ``MAMORI_ATTACHMENT_SCANNER`` (None when unset); ValueError if malformed."""
    value = (getattr(settings, "MAMORI_ATTACHMENT_SCANNER", "") or "").strip()
    if not value:
        return None
    timeout = float(getattr(settings, "MAMORI_ATTACHMENT_SCAN_TIMEOUT", 30))
    parts = urlsplit(value)
    if parts.scheme != "clamd":
        raise ValueError("MAMORI_ATTACHMENT_SCANNER must start with clamd://")
    if parts.hostname:
        return Scanner(socket.AF_INET, (parts.hostname, parts.port or 3310), timeout)
    if parts.path.startswith("/"):
        return Scanner(socket.AF_UNIX, parts.path, timeout)
    raise ValueError("MAMORI_ATTACHMENT_SCANNER: clamd://HOST:PORT or clamd:///path/to/socket")


class ClamdStream:
    """One ``zINSTREAM`` session: ``feed`` the bytes as they are read, then ``verdict``."""

    def __init__(self, scanner: Scanner):
        self._sock = None
        try:
            self._sock = socket.socket(scanner.family, socket.SOCK_STREAM)
            self._sock.settimeout(scanner.timeout)
            self._sock.connect(scanner.address)
            self._sock.sendall(b"zINSTREAM\0")
        except OSError as exc:
            self.close()
            raise ScanUnavailable(f"cannot reach the scanner: {exc.__class__.__name__}") from None

    def feed(self, data: bytes) -> None:
        try:
            for start in range(0, len(data), CHUNK):
                chunk = data[start:start + CHUNK]
                self._sock.sendall(struct.pack(">I", len(chunk)) + chunk)
        except OSError as exc:
            # clamd closes the connection when the stream passes its StreamMaxLength.
            raise ScanUnavailable(f"the scanner stopped reading: {exc.__class__.__name__}") from None

    def verdict(self) -> str | None:
        """None when clean, else the signature name clamd found."""
        try:
            self._sock.sendall(struct.pack(">I", 0))
            reply = b""
            while not reply.endswith(b"\0") and len(reply) < MAX_REPLY:
                part = self._sock.recv(1024)
                if not part:
                    break
                reply += part
        except OSError as exc:
            raise ScanUnavailable(f"no verdict from the scanner: {exc.__class__.__name__}") from None
        finally:
            self.close()
        text = reply.rstrip(b"\0").decode("utf-8", "replace").strip()
        if text.endswith(" OK"):
            return None
        if text.endswith(" FOUND"):
            return text.removeprefix("stream:").removesuffix("FOUND").strip()[:200] or "unknown"
        raise ScanUnavailable(f"scanner answered: {text[:200]!r}")

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None


class ScanningReader:
    """Passes every byte read from ``source`` on to the scanner (the upload is read only once)."""

    def __init__(self, source: IO[bytes], stream: ClamdStream):
        self._source, self._stream = source, stream

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        if data:
            self._stream.feed(data)
        return data


def log_unavailable(exc: ScanUnavailable) -> None:
    logger.warning("Attachment refused: malware scanner unavailable (%s)", exc)
