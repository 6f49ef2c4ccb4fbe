"""SCIM conformance: scim2-tester (PyPI) against the running server (issue 4, item 4).

The live server (pytest-django's ``live_server``) serves ``/scim/v2/``; scim2-client
talks to it over real HTTP through a small ``requests`` engine (scim2-client ships
an httpx2 engine, which is not among Mamori's dependencies). Every check scim2-tester
runs must pass, except the ones listed in ``KNOWN`` with the reason they do not apply.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from scim2_client import BaseSyncSCIMClient
from scim2_tester import Status, check_server

pytestmark = pytest.mark.django_db(transaction=True)

#: Checks that cannot pass by design, with why (reported, not hidden).
KNOWN: dict[str, str] = {
    # PATCH "remove" of each optional attribute in turn: every Mamori account is either active
    # or suspended, so "active" cannot become unassigned; the server answers 400 mutability.
    "check_remove_attribute:User:active": "a Mamori account is always active or suspended",
}


def _key(result) -> str:
    urn = (result.data or {}).get("urn", "") if isinstance(result.data, dict) else ""
    return f"{result.title}:{getattr(result, 'resource_type', '')}:{urn}"


class RequestsSCIMClient(BaseSyncSCIMClient):
    """scim2-client over ``requests``: the base URL is the server's ``/scim/v2``."""

    def __init__(self, base_url: str, token: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def _stays_under_base_url(self, endpoint: str) -> bool:
        url = urlsplit(self._url(endpoint))
        base = urlsplit(self.base_url)
        return (url.scheme, url.netloc) == (base.scheme, base.netloc) and url.path.startswith(base.path)

    def _url(self, url: str) -> str:
        if url.startswith(("http://", "https://")):
            return url
        return self.base_url + "/" + url.lstrip("/")

    def request(self, method: str, url: str, **kwargs: Any):
        if "json" in kwargs:
            import json

            kwargs["data"] = json.dumps(kwargs.pop("json"))
            kwargs.setdefault("headers", {})["Content-Type"] = "application/scim+json"
        return self.session.request(method, self._url(url), timeout=30, **kwargs)


def _describe(result) -> str:
    return f"{_key(result)}: {result.reason}"


def run_checks(live_server, raw_token: str):
    client = RequestsSCIMClient(urljoin(live_server.url, "/scim/v2"), raw_token)
    try:
        client.discover()
        return check_server(client)
    finally:
        client.session.close()  # no keep-alive connection outlives the live server's database


def test_scim2_tester_passes_every_applicable_check(live_server, tenant, admin, scim_token, capsys):
    results = run_checks(live_server, scim_token)
    passed = [r for r in results if r.status in (Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE)]
    skipped = [r for r in results if r.status == Status.SKIPPED]
    failed = [r for r in results if r not in passed and r not in skipped]
    unexpected = [r for r in failed if _key(r) not in KNOWN]
    with capsys.disabled():
        print(f"\nscim2-tester: {len(passed)} passed, {len(skipped)} skipped, {len(failed)} failed "
              f"of {len(results)} checks")
        for result in failed + skipped:
            print(f"  {result.status.name}: {_describe(result)}")
    assert not unexpected, "\n".join(_describe(r) for r in unexpected)
    assert len(passed) >= 66  # of 67 (see KNOWN and docs/accounts/scim.md)
