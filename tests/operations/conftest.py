import pytest
from django.test import Client

from mamori.audit.events import Actor
from tests.cli.support import migrated_sqlite_template, sqlite_data_dir  # noqa: F401

STAFF_PASSWORD = "provider staff passphrase 9"


@pytest.fixture
def make_staff(db):
    from mamori.operations.actions import create_staff
    from mamori.tenancy.context import use_tenant

    def _make(role: str = "operator", email: str | None = None):
        with use_tenant(None):
            return create_staff(actor=Actor.system("test"), email=email or f"{role}@provider.example",
                                password=STAFF_PASSWORD, role=role)

    return _make


@pytest.fixture
def staff_login(make_staff):
    """A client signed in as new staff of ``role`` (password only: MFA is off unless a test turns it on)."""

    def _login(role: str = "operator", email: str | None = None) -> Client:
        staff = make_staff(role, email)
        client = Client(HTTP_ACCEPT_LANGUAGE="en")
        response = client.post("/provider/login/", {"email": staff.email, "password": STAFF_PASSWORD})
        assert response.status_code == 302 and response["Location"] == "/provider/"
        client.staff = staff
        return client

    return _login
