"""Issue 6 item 4 through the API: GET/POST /api/v1/data/termination (tenant admins, password)."""

from __future__ import annotations

import pytest

from mamori.lifecycle.models import Termination
from mamori.tenancy.models import Tenant
from tests.conftest import PASSWORD

URL = "/api/v1/data/termination"


def test_admin_reads_and_terminates(tenant, admin, api_token, api_client):
    client = api_client(api_token(admin))
    status = client.get(URL)
    assert status.status_code == 200 and status.json()["terminating"] is False and status.json()["grace_days"] == 30
    response = client.post(URL, {"confirm_slug": "acme", "password": PASSWORD, "reason": "bye"},
                           content_type="application/json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["terminating"] is True and body["status"] == "terminating" and body["days_left"] == 30
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.TERMINATING
    # Read-only now: the GET still works, a second POST is refused by the grace period.
    assert client.get(URL).json()["ends_at"]
    again = client.post(URL, {"confirm_slug": "acme", "password": PASSWORD}, content_type="application/json")
    assert again.status_code == 403


@pytest.mark.parametrize("payload, field", [
    ({"confirm_slug": "acme", "password": "wrong"}, "password"),
    ({"confirm_slug": "ACME", "password": PASSWORD}, "confirm_slug"),
    ({"password": PASSWORD}, "confirm_slug"),
])
def test_bad_input_is_422_and_changes_nothing(tenant, admin, api_token, api_client, payload, field):
    response = api_client(api_token(admin)).post(URL, payload, content_type="application/json")
    assert response.status_code == 422
    assert field in {e["field"].split(".")[-1] for e in response.json()["errors"]}
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.ACTIVE and not Termination.objects.exists()


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_non_admins_are_refused(tenant, role, request, api_token, api_client):
    client = api_client(api_token(request.getfixturevalue(role)))
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"confirm_slug": "acme", "password": PASSWORD},
                       content_type="application/json").status_code == 403
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.ACTIVE
