"""Outbound requests to admin-chosen URLs reach public addresses only (SSRF guard)."""

import pytest

from mamori.core.outbound import UnsafeDestination, check_destination, public_only_session


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "https://localhost/x", "http://[::1]:8080/", "http://10.1.2.3/",
    "http://192.168.0.10/", "http://169.254.169.254/latest/meta-data/", "http://[::ffff:10.0.0.1]/",
    "http://0.0.0.0/", "http://[fd00::1]/", "https:///nohost",
])
def test_private_loopback_and_metadata_addresses_are_refused(url):
    with pytest.raises(UnsafeDestination):
        check_destination(url)


def test_loopback_only_when_allowed():
    check_destination("http://127.0.0.1:9/", allow_loopback=True)
    with pytest.raises(UnsafeDestination):
        check_destination("http://10.0.0.1/", allow_loopback=True)


def test_public_addresses_pass():
    check_destination("https://93.184.215.14/")  # an IP literal: no DNS needed


def test_a_session_refuses_before_connecting():
    with public_only_session() as session, pytest.raises(UnsafeDestination):
        session.get("http://127.0.0.1:9/", timeout=1)
