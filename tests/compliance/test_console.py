"""Provider console page "Control checks": roles, latest results, history, run now (audited) and the
auditor export download (audited, field errors for bad dates)."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.test import Client

from mamori.audit.events import Actor
from mamori.audit.models import ProviderEvent
from mamori.compliance.models import ControlRun
from mamori.compliance.runner import run_checks
from mamori.tenancy.context import use_tenant

pytestmark = pytest.mark.django_db
PASSWORD = "provider staff passphrase 9"  # noqa: S105 (a test password)


def _staff(role: str):
    from mamori.operations.actions import create_staff

    with use_tenant(None):
        return create_staff(actor=Actor.system("test"), email=f"{role}@provider.example", password=PASSWORD, role=role)


def _client(staff) -> Client:
    client = Client()
    response = client.post("/provider/login/", {"email": staff.email, "password": PASSWORD})
    assert response.status_code == 302, response.content[:500]
    return client


@pytest.fixture
def officer():
    return _staff("security_officer")


@pytest.mark.parametrize("path", ["/provider/controls/", "/provider/controls/6.1.1/"])
def test_anonymous_goes_to_sign_in_and_support_staff_is_refused(path):
    assert Client().get(path)["Location"].startswith("/provider/login/?next=")
    support = _client(_staff("support"))
    assert support.get(path).status_code == 403
    assert support.post("/provider/controls/run/").status_code == 403
    assert support.post("/provider/controls/export/", {"date_from": "2026-01-01", "date_to": "2026-01-02"}) \
        .status_code == 403


def test_page_lists_every_control_with_its_latest_result(officer):
    run_checks(keys=["6.1.1", "9.2.4"])
    client = _client(officer)
    page = client.get("/provider/controls/", HTTP_ACCEPT_LANGUAGE="en")
    body = page.content.decode()
    assert page.status_code == 200
    assert 'id="control-6-1-1"' in body and "grace period 30 days" in body
    assert "the default hasher is md5" in body  # the tests' fast hasher: a failing control is shown as such
    assert 'id="control-cld-9-5-1"' in body and "Never checked" in body
    assert "Control checks" in body and 'href="/provider/controls/"' in body  # navigation entry


def test_operator_sees_the_page_in_japanese(officer):
    operator = _staff("operator")
    client = _client(operator)
    page = client.get("/provider/controls/", HTTP_ACCEPT_LANGUAGE="ja")
    assert page.status_code == 200


def test_history_of_one_control(officer):
    run_checks(keys=["6.1.1"])
    run_checks(keys=["6.1.1"])
    page = _client(officer).get("/provider/controls/6.1.1/", HTTP_ACCEPT_LANGUAGE="en")
    body = page.content.decode()
    assert page.status_code == 200 and body.count("grace period 30 days") == 2
    japanese = _client(officer).get("/provider/controls/6.1.1/", HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert japanese.count("猶予期間は 30 日") == 2
    assert "&quot;termination_grace_days&quot;: 30" in body
    assert _client(officer).get("/provider/controls/99.9/").status_code == 404


def test_run_now_runs_every_check_and_is_audited(officer):
    client = _client(officer)
    response = client.post("/provider/controls/run/")
    assert response.status_code == 302 and response["Location"] == "/provider/controls/"
    run = ControlRun.objects.get()
    assert run.trigger == "console" and run.triggered_by == officer.email and run.counts["total"] >= 30
    event = ProviderEvent.objects.get(action="controls.checked")
    assert event.actor_type == "provider_staff" and event.actor_id == str(officer.pk)
    assert client.get("/provider/controls/run/").status_code == 405


def test_export_downloads_the_zip_and_is_audited(officer):
    run_checks(keys=["6.1.1"])
    client = _client(officer)
    response = client.post("/provider/controls/export/", {"date_from": "2026-01-01", "date_to": "2030-12-31"})
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert 'filename="mamori-controls-20260101-20301231.zip"' in response["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        latest = json.loads(archive.read("results/latest.json"))
        assert "manifest.json" in archive.namelist()
    assert [r["key"] for r in latest] == ["6.1.1"]
    event = ProviderEvent.objects.get(action="controls.exported")
    assert event.actor_id == str(officer.pk) and event.after["from"] == "2026-01-01"


def test_export_with_bad_dates_shows_field_errors(officer):
    client = _client(officer)
    response = client.post("/provider/controls/export/", {"date_from": "2026-05-01", "date_to": "2026-04-01"},
                           HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert "The end date cannot be before the start date." in response.content.decode()
    response = client.post("/provider/controls/export/", {"date_from": "yesterday", "date_to": ""},
                           HTTP_ACCEPT_LANGUAGE="ja")
    assert response.status_code == 400
    assert "日付を YYYY-MM-DD の形式で入力してください。" in response.content.decode()
    assert not ProviderEvent.objects.filter(action="controls.exported").exists()
