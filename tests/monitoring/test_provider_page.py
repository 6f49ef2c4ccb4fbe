"""The provider console's Monitoring page."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from mamori.audit.events import Actor
from mamori.monitoring import probes
from mamori.monitoring.clock import measure_clock
from mamori.operations.actions import create_staff
from mamori.operations.pages import PROVIDER_PAGES
from mamori.tenancy.context import use_tenant

PASSWORD = "provider staff passphrase 9"  # noqa: S105 (test value)


@pytest.fixture
def staff_client(db):
    with use_tenant(None):
        staff = create_staff(actor=Actor.system("test"), email="ops@provider.example", password=PASSWORD)
    client = Client()
    assert client.post("/provider/login/", {"email": staff.email, "password": PASSWORD}).status_code == 302
    return client


def test_anonymous_goes_to_sign_in(db):
    response = Client().get("/provider/monitoring/")
    assert response.status_code == 302 and response["Location"].startswith("/provider/login/?next=")


def test_in_the_navigation():
    assert any(page.url_name == "provider:monitoring" and page.section == "monitoring" for page in PROVIDER_PAGES)


def test_states_history_and_clock(staff_client, sntp_server):
    probes.run_probes()
    sntp_server.offset = 0.25
    measure_clock(servers=[sntp_server.address])
    response = staff_client.get("/provider/monitoring/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'aria-current="page">Monitoring</a>' in html
    assert html.count('class="state state-operational"') >= 6
    assert "/healthz 200" in html and "SELECT 1 on" in html
    assert sntp_server.address in html and "Within threshold" in html
    # 250 ms, shown to one decimal; measured over loopback, so a busy machine can move it by a
    # little either way (249.9 is as right as 250.1).
    shown = re.search(r"Offset (-?[0-9.]+) ms", html)
    assert shown is not None and abs(float(shown.group(1)) - 250) < 25
    assert "Last worker heartbeat" in html
    assert "style=" not in html


def test_empty_state(staff_client):
    html = staff_client.get("/provider/monitoring/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "No probe results yet" in html and "The clock has not been checked yet." in html
