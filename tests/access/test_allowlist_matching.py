"""IP allowlist (issue 4, item 2): parsing, matching (IPv4, IPv6, IPv4-mapped) and the client address."""

from __future__ import annotations

import ipaddress
import random

import pytest
from django.core.exceptions import ValidationError
from django.test import RequestFactory

from mamori.access.allowlist import CompiledAllowlist, normalise_cidr, parse_network, split_lines
from mamori.core.net import client_ip, parse_trusted_proxies


@pytest.mark.parametrize(("raw", "normal"), [
    ("192.0.2.7", "192.0.2.7/32"),
    (" 203.0.113.0/24 ", "203.0.113.0/24"),
    ("2001:DB8::/32", "2001:db8::/32"),
    ("2001:db8::1", "2001:db8::1/128"),
    ("::ffff:198.51.100.0/120", "198.51.100.0/24"),
    ("::ffff:198.51.100.9", "198.51.100.9/32"),
    ("0.0.0.0/0", "0.0.0.0/0"),
])
def test_entries_are_normalised(raw, normal):
    assert normalise_cidr(raw) == normal


@pytest.mark.parametrize("raw", [
    "", "   ", "300.1.1.1", "192.0.2.0/33", "10.0.0.0/8/8", "example.com", "1.2.3", "2001:db8::/129",
    "fe80::1%eth0", "192.0.2.0/-1", "１９２.0.2.1", "\x00", "a" * 500, "192.0.2.0/24 extra", "::ffff:1.2.3.4/200",
])
def test_garbage_is_a_validation_error_never_an_exception(raw):
    with pytest.raises(ValidationError):
        parse_network(raw)


def test_host_bits_set_suggest_the_network():
    with pytest.raises(ValidationError) as exc:
        parse_network("192.0.2.7/24")
    assert "192.0.2.0/24" in exc.value.messages[0]


def test_split_lines_keeps_line_numbers_and_comments():
    text = "# offices\n203.0.113.0/24 Tokyo office\n\n2001:db8::/32   # VPN\nbad-one\n"
    lines = split_lines(text)
    assert [(e.line, e.cidr, e.comment) for e in lines] == [
        (2, "203.0.113.0/24", "Tokyo office"), (4, "2001:db8::/32", "VPN"), (5, "bad-one", "")]


def test_matching_ipv4_ipv6_and_mapped():
    compiled = CompiledAllowlist.from_strings(["203.0.113.0/24", "198.51.100.7", "2001:db8:1::/48", "10.0.0.0/8"])
    assert compiled.contains("203.0.113.0") and compiled.contains("203.0.113.255")
    assert not compiled.contains("203.0.112.255") and not compiled.contains("203.0.114.0")
    assert compiled.contains("198.51.100.7") and not compiled.contains("198.51.100.8")
    assert compiled.contains("2001:db8:1:ffff::1") and not compiled.contains("2001:db8:2::1")
    # IPv4-mapped IPv6 (what a dual-stack socket reports) matches the IPv4 entries.
    assert compiled.contains("::ffff:203.0.113.9") and compiled.contains("::FFFF:10.1.2.3")
    assert not compiled.contains("::ffff:192.0.2.1")
    # An IPv4 address never matches an IPv6 entry with the same integer value, and vice versa.
    assert not compiled.contains("::cb00:7109")  # = 203.0.113.9 as a plain IPv6 integer
    for garbage in ("", "nonsense", "203.0.113.9:80", None):
        assert not compiled.contains(garbage)


def test_empty_list_matches_nothing():
    compiled = CompiledAllowlist.from_strings([])
    assert not compiled.contains("127.0.0.1") and not compiled.contains("::1")


def test_overlapping_and_adjacent_entries_merge():
    compiled = CompiledAllowlist.from_strings(["10.0.0.0/25", "10.0.0.128/25", "10.0.0.0/24", "10.0.1.0/24"])
    assert compiled._v4_starts == [int(ipaddress.ip_address("10.0.0.0"))]
    assert compiled.contains("10.0.1.255") and not compiled.contains("10.0.2.0")


def test_bisect_agrees_with_a_linear_scan():
    rng = random.Random(42)
    nets = set()
    while len(nets) < 300:
        if rng.random() < 0.7:
            nets.add(ipaddress.ip_network((rng.getrandbits(32), rng.randint(8, 32)), strict=False))
        else:
            nets.add(ipaddress.ip_network((rng.getrandbits(128), rng.randint(16, 128)), strict=False))
    compiled = CompiledAllowlist(list(nets))
    for _ in range(3000):
        if rng.random() < 0.5:
            ip = ipaddress.ip_address(rng.getrandbits(32))
        else:
            ip = ipaddress.ip_address(rng.getrandbits(128))
        expected = any(ip.version == n.version and ip in n for n in nets)
        assert compiled.contains_ip(ip) is expected
    # Addresses at the edges of each network.
    for net in list(nets)[:100]:
        assert compiled.contains(str(net.network_address)) and compiled.contains(str(net.broadcast_address))


# --- client address ------------------------------------------------------------------------

def _request(remote="203.0.113.9", xff=None):
    extra = {"REMOTE_ADDR": remote}
    if xff is not None:
        extra["HTTP_X_FORWARDED_FOR"] = xff
    return RequestFactory().get("/", **extra)


def test_forged_forwarded_for_from_an_untrusted_peer_is_ignored(settings):
    settings.MAMORI_TRUSTED_PROXIES = ["10.0.0.1"]
    assert client_ip(_request("203.0.113.9", "198.51.100.1")) == "203.0.113.9"
    settings.MAMORI_TRUSTED_PROXIES = []
    assert client_ip(_request("203.0.113.9", "198.51.100.1")) == "203.0.113.9"


def test_trusted_proxy_gives_the_right_most_untrusted_hop(settings):
    settings.MAMORI_TRUSTED_PROXIES = ["10.0.0.0/24", "2001:db8:ffff::/48"]
    # The client forged the left part; the proxy appended the real peer.
    assert client_ip(_request("10.0.0.1", "1.1.1.1, 198.51.100.1")) == "198.51.100.1"
    # Two trusted proxies in a row.
    assert client_ip(_request("10.0.0.1", "1.1.1.1, 198.51.100.1, 10.0.0.2")) == "198.51.100.1"
    assert client_ip(_request("2001:db8:ffff::5", "2001:db8:1::9")) == "2001:db8:1::9"
    # Ports and brackets are dropped; mapped addresses are unwrapped.
    assert client_ip(_request("10.0.0.1", "198.51.100.1:5555")) == "198.51.100.1"
    assert client_ip(_request("10.0.0.1", "[2001:db8:1::9]:443")) == "2001:db8:1::9"
    assert client_ip(_request("::ffff:10.0.0.1", "::ffff:198.51.100.1")) == "198.51.100.1"
    # No header: the proxy itself; only trusted hops: the left-most one.
    assert client_ip(_request("10.0.0.1")) == "10.0.0.1"
    assert client_ip(_request("10.0.0.1", "10.0.0.7, 10.0.0.2")) == "10.0.0.7"


def test_garbage_forwarded_for_gives_no_address(settings):
    settings.MAMORI_TRUSTED_PROXIES = ["10.0.0.1"]
    for header in ("unknown", "not-an-ip, ", "1.2.3.4.5", "\x00", "[::1", "999.1.1.1"):
        assert client_ip(_request("10.0.0.1", header)) is None, header
    # Garbage left of the real hop is never read.
    assert client_ip(_request("10.0.0.1", "garbage, 198.51.100.1")) == "198.51.100.1"


def test_mapped_peer_matches_a_trusted_ipv4_proxy(settings):
    settings.MAMORI_TRUSTED_PROXIES = ["127.0.0.1"]
    assert client_ip(_request("::ffff:127.0.0.1", "198.51.100.1")) == "198.51.100.1"


def test_no_peer_address():
    assert client_ip(_request("")) is None


def test_malformed_trusted_proxy_setting_refuses_to_start():
    with pytest.raises(RuntimeError, match="not-a-network"):
        parse_trusted_proxies(["10.0.0.0/8", "not-a-network"])
    assert [str(n) for n in parse_trusted_proxies(["::ffff:10.0.0.0/104"])] == ["10.0.0.0/8"]
