"""Console sign-in history: admin filters, unit admin scoping, 403 for others, CSV export, my sign-ins."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from mamori.audit.models import AuditEvent
from tests.accounts.signin_support import record_signin, sign_in, unit_world

URL = "/t/acme/signins/"
T0 = datetime(2026, 4, 1, 14, 30, tzinfo=UTC)  # 2026-04-01 23:30 in Tokyo


@pytest.fixture
def history(tenant, admin, editor, viewer):
    """Sign-ins of three users and attempts on an unknown address, at known times."""
    record_signin(admin, T0, ip="203.0.113.1")
    record_signin(editor, T0 + timedelta(hours=1), ip="198.51.100.10", method="login_link")  # 04-02 00:30 JST
    record_signin(viewer, T0 + timedelta(days=1), ip="198.51.100.200", method="invitation")
    record_signin(None, T0 + timedelta(days=1, hours=1), action="auth.login_failed", ip="192.0.2.66",
                  reason="unknown_account", email="intruder@evil.example")
    record_signin(editor, T0 + timedelta(days=2), action="auth.login_failed", ip="192.0.2.66",
                  reason="bad_credentials")
    record_signin(editor, T0 + timedelta(days=2, minutes=1), action="auth.lockout", ip="192.0.2.66")


def _rows(html: str) -> int:
    return max(0, html.count("<tr>") - 1)  # minus the header


def _get(client, **params):
    response = client.get(URL, params)
    assert response.status_code == 200
    return response.content.decode()


def test_admin_sees_everyone_and_filters(history, admin_client, admin, editor, viewer):
    html = _get(admin_client)
    assert "intruder@evil.example" in html and _rows(html) >= 6
    assert 'href="/t/acme/signins/"' in html  # nav link
    only_editor = _get(admin_client, user=editor.email)
    assert editor.email in only_editor and admin.email not in only_editor.split("<main")[1].split("</main>")[0]
    assert _rows(only_editor) >= 3
    assert _rows(_get(admin_client, user="intruder")) == 1  # part of an address
    failures = _get(admin_client, result="failure")
    assert _rows(failures) == 2
    assert _rows(_get(admin_client, result="lockout")) == 1
    assert _rows(_get(admin_client, method="invitation")) == 1
    assert _rows(_get(admin_client, method="login_link")) == 1
    assert _rows(_get(admin_client, ip="198.51.100.0/24")) == 2
    assert _rows(_get(admin_client, ip="192.0.2.66")) == 3


def test_date_range_is_in_the_tenant_time_zone(history, admin_client):
    # 2026-04-01 in Tokyo contains only the 23:30 sign-in, not the one at 00:30 the next day.
    day = _get(admin_client, since="2026-04-01", until="2026-04-01")
    assert _rows(day) == 1 and "203.0.113.1" in day
    assert _rows(_get(admin_client, since="2026-04-02", until="2026-04-02")) == 2
    bad = admin_client.get(URL, {"since": "2026-04-03", "until": "2026-04-01"}).content.decode()
    assert 'class="errors"' in bad and "<tbody>" not in bad


def test_invalid_filters_are_form_errors(history, admin_client):
    for params in ({"ip": "not-an-ip"}, {"result": "nonsense"}, {"before": "%%%"}, {"since": "2026-13-40"}):
        response = admin_client.get(URL, params)
        assert response.status_code == 200
        assert "<tbody>" not in response.content.decode()


def test_paging(tenant, admin, admin_client):
    for n in range(55):
        record_signin(admin, T0 + timedelta(minutes=n), ip=f"198.51.100.{n + 1}")
    first = _get(admin_client, user=admin.email)
    assert _rows(first) == 50 and 'rel="next"' in first
    next_href = first.split('rel="next"')[0].rsplit('href="?', 1)[1].split('"')[0].replace("&amp;", "&")
    second = admin_client.get(URL + "?" + next_href).content.decode()
    assert _rows(second) == 6 and 'rel="next"' not in second  # 5 older + the fixture's own sign-in
    assert "198.51.100.1<" in second


def test_unit_admin_sees_only_users_of_their_units(history, tenant, user_factory, console_client):
    boss, seller, helper = unit_world(tenant, user_factory)
    record_signin(seller, T0, ip="198.51.100.31")
    record_signin(helper, T0, ip="198.51.100.32")
    client = console_client(boss)
    html = _get(client)
    assert "198.51.100.31" in html
    for hidden in ("198.51.100.32", "intruder@evil.example", "203.0.113.1"):
        assert hidden not in html
    assert _rows(_get(client, user=helper.email)) == 0
    assert _rows(_get(client, user=seller.email)) == 1


def test_viewer_and_editor_get_403(history, viewer_client, editor_client):
    for client in (viewer_client, editor_client):
        assert client.get(URL).status_code == 403
        assert client.get(URL + "export.csv").status_code == 403
        assert 'href="/t/acme/signins/"' not in client.get("/t/acme/").content.decode()
    assert AuditEvent.objects.filter(action="access.denied").count() >= 4


def test_other_tenants_admin_never_sees_acme(history, outsider_client):
    html = outsider_client.get("/t/globex/signins/").content.decode()
    assert "acme.example" not in html and "192.0.2.66" not in html


def test_csv_export_is_filtered_neutralised_and_audited(history, tenant, admin_client):
    record_signin(None, T0 + timedelta(days=3), action="auth.login_failed", reason="unknown_account",
                  email='=HYPERLINK("http://evil.example","x")')
    response = admin_client.get(URL + "export.csv", {"result": "failure"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    raw = response.content.decode("utf-8")
    assert raw.startswith("\ufeff") and "\r\n" in raw
    rows = list(csv.reader(io.StringIO(raw.lstrip("\ufeff"))))
    assert rows[0][:3] == ["time", "result", "event"]
    assert len(rows) == 4 and {r[1] for r in rows[1:]} == {"failure"}
    assert rows[1][4] == "'=HYPERLINK(\"http://evil.example\",\"x\")"
    assert rows[1][0].endswith("+09:00")
    event = AuditEvent.objects.get(action="signins.exported")
    assert event.after == {"filters": {"result": "failure"}}
    assert admin_client.get(URL + "export.csv", {"ip": "bad"}).status_code == 400


def test_my_sign_ins_paging_and_result_filter(tenant, viewer, console_client):
    for n in range(52):
        record_signin(viewer, T0 + timedelta(minutes=n))
    for _ in range(2):
        sign_in(viewer.email, "wrong password")
    client = console_client(viewer)
    html = client.get("/t/acme/me/sign-ins/").content.decode()
    assert _rows(html) == 50 and 'rel="next"' in html
    failed = client.get("/t/acme/me/sign-ins/", {"result": "failure"}).content.decode()
    assert _rows(failed) == 2
    assert client.get("/t/acme/me/sign-ins/", {"result": "bogus"}).status_code == 200


def test_help_page(admin_client, viewer_client):
    html = admin_client.get("/t/acme/help/signins/").content.decode()
    assert admin_client.get("/t/acme/help/signins/").status_code == 200
    assert viewer_client.get("/t/acme/help/signins/").status_code == 200
    assert 'href="/t/acme/help/signins/"' in admin_client.get("/t/acme/help/").content.decode()
    assert "<h1>" in html
