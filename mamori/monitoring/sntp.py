"""A small SNTP client (RFC 4330): how far the local clock is from an NTP server's.

One UDP request per server, 2 s timeout. The request carries our transmit time ``T1``; the
reply must echo it as its originate timestamp (anything else is refused: a stray or forged
packet) and carries the server's receive ``T2`` and transmit ``T3`` times; ``T4`` is our
receive time. Then (RFC 4330 §5)::

    offset = ((T2 - T1) + (T3 - T4)) / 2     # > 0: the server is ahead, our clock is slow
    delay  = (T4 - T1) - (T3 - T2)

Refused replies raise :class:`SntpError` with a short reason: too short, wrong mode or
version, stratum 0 (kiss-o'-death) or above 15, leap indicator 3 (server unsynchronised),
originate mismatch, zero transmit time.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from dataclasses import dataclass

NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900-01-01 to 1970-01-01
_PACKET = struct.Struct("!BBbb11I")  # 48 bytes: flags, stratum, poll, precision, 11 words
TIMEOUT = 2.0


class SntpError(Exception):
    """The server did not answer usably; ``str()`` is the reason (no internals)."""


@dataclass(frozen=True)
class Measurement:
    offset_ms: float
    delay_ms: float
    stratum: int


def _to_ntp(unix: float) -> tuple[int, int]:
    seconds = unix + NTP_EPOCH_OFFSET
    whole = int(seconds)
    return whole & 0xFFFFFFFF, int((seconds - whole) * 2**32) & 0xFFFFFFFF


def _from_ntp(whole: int, fraction: int) -> float:
    return whole - NTP_EPOCH_OFFSET + fraction / 2**32


def parse_server(entry: str) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address → (host, port)."""
    entry = entry.strip()
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else 123
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        if port.isdigit():
            return host, int(port)
    return entry, 123


def query(server: str, *, timeout: float = TIMEOUT) -> Measurement:
    host, port = parse_server(server)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except (OSError, UnicodeError) as exc:
        raise SntpError(f"name resolution failed: {exc.__class__.__name__}") from None
    family, _, _, _, address = infos[0]
    # The transmit field carries the current second with a random fraction (a nonce: a reply
    # must echo it); T1 itself is the local time taken right before sending.
    t1_whole, _ = _to_ntp(time.time())
    t1_fraction = int.from_bytes(os.urandom(4), "big")
    request = _PACKET.pack(0x23, 0, 0, 0, *([0] * 9), t1_whole, t1_fraction)  # LI 0, VN 4, mode 3
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            t1 = time.time()
            sock.sendto(request, address)
            data, _ = sock.recvfrom(512)
            t4 = time.time()
        except TimeoutError:
            raise SntpError(f"no answer within {timeout:g} s") from None
        except OSError as exc:  # refused (ICMP port unreachable), network unreachable…
            raise SntpError(f"network error: {exc.strerror or exc.__class__.__name__}") from None
    if len(data) < _PACKET.size:
        raise SntpError(f"reply too short ({len(data)} bytes)")
    flags, stratum, _, _, *words = _PACKET.unpack(data[:_PACKET.size])
    leap, version, mode = flags >> 6, (flags >> 3) & 0x7, flags & 0x7
    if mode not in (4, 5) or version not in (3, 4):
        raise SntpError(f"not an NTP server reply (version {version}, mode {mode})")
    if stratum == 0:
        raise SntpError("kiss-o'-death from the server (stratum 0)")
    if stratum > 15 or leap == 3:
        raise SntpError("the server's clock is not synchronised")
    originate = (words[5], words[6])
    if originate != (t1_whole, t1_fraction):
        raise SntpError("reply does not answer our request (originate timestamp mismatch)")
    if words[9] == 0 and words[10] == 0:
        raise SntpError("reply has no transmit time")
    t2 = _from_ntp(words[7], words[8])
    t3 = _from_ntp(words[9], words[10])
    offset = ((t2 - t1) + (t3 - t4)) / 2
    delay = (t4 - t1) - (t3 - t2)
    return Measurement(offset_ms=round(offset * 1000, 3), delay_ms=round(max(delay, 0.0) * 1000, 3),
                       stratum=stratum)
