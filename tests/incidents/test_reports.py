"""Public security report form and security.txt: no account, CSRF, size limits, HTML as text,
honeypot, rate limit per client address with a clear 429 page, metadata-only audit."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from mamori.audit.models import ProviderEvent
from mamori.incidents.models import SecurityReport

URL = "/security/report"
GOOD = {"name": "Hanako", "email": "hanako@researcher.example", "subject": "Stored XSS in labels",
        "body": "Steps: 1. create label <img src=x onerror=alert(1)>\nSecret seen: token=abc123"}


@pytest.fixture
def reports_allowed(settings, immediate_tasks):
    settings.MAMORI_SECURITY_REPORTS_PER_HOUR = 3


def _post(client=None, data=None, ip="198.51.100.7", **extra):
    return (client or Client()).post(URL, data if data is not None else GOOD, REMOTE_ADDR=ip, **extra)


def test_form_renders_without_an_account_and_has_csrf(db, reports_allowed):
    page = Client().get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert "csrfmiddlewaretoken" in html and 'name="website"' in html and "<div hidden" in html
    assert Client(enforce_csrf_checks=True).post(URL, GOOD).status_code == 403
    assert not SecurityReport.objects.exists()


def test_report_is_stored_acknowledged_and_audited_without_its_body(db, reports_allowed,
                                                                     django_capture_on_commit_callbacks):
    client = Client()
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client)
    assert response.status_code == 302 and response["Location"] == "/security/report/sent"
    report = SecurityReport.objects.get()
    assert report.body == GOOD["body"] and report.client_ip == "198.51.100.7" and report.state == "new"
    assert re.fullmatch(r"SR-\d{8}-[A-Z2-9]{6}", report.reference)
    sent = client.get("/security/report/sent")
    assert report.reference in sent.content.decode()
    [ack] = mail.outbox
    assert ack.to == [GOOD["email"]] and report.reference in ack.subject + ack.body
    assert "onerror" not in ack.body and "abc123" not in ack.body  # the mail never repeats the report
    event = ProviderEvent.objects.get(action="security_report.received")
    stored = repr((event.before, event.after, event.target_label))
    assert "abc123" not in stored and "onerror" not in stored and "Stored XSS" not in stored
    assert event.after["body_chars"] == len(GOOD["body"]) and event.after["reference"] == report.reference


def test_html_is_kept_as_plain_text_in_the_console(db, reports_allowed, officer, staff_client):
    _post()
    report = SecurityReport.objects.get()
    page = staff_client(officer).get(f"/provider/security-reports/{report.pk}/").content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "<img src=x" not in page


@pytest.mark.parametrize(("field", "value"), [
    ("body", "x" * 20001), ("subject", "s" * 201), ("name", "n" * 101), ("email", "not-an-address"),
    ("email", "a" * 250 + "@example.com"), ("subject", ""), ("body", "   "),
])
def test_bad_input_gets_field_errors_and_keeps_the_text(db, reports_allowed, field, value):
    data = {**GOOD, field: value}
    response = _post(data=data)
    assert response.status_code == 422
    assert response.context["form"].errors.get(field)
    assert not SecurityReport.objects.exists()
    if field != "body":
        assert "onerror=alert(1)" in response.content.decode().replace("&lt;", "<").replace("&gt;", ">")


def test_control_characters_and_nul_do_not_break_storage(db, reports_allowed):
    refused = _post(data={**GOOD, "subject": "nul\x00here"})
    assert refused.status_code == 422 and refused.context["form"].errors["subject"]
    assert _post(data={**GOOD, "body": "a\x07b\x1bc\nline two"}).status_code == 302
    report = SecurityReport.objects.get()
    assert report.body == "abc\nline two"


def test_a_huge_request_is_refused_without_a_500(db, reports_allowed):
    response = _post(data={**GOOD, "body": "x" * 3_000_000})
    assert response.status_code in (400, 413, 422)
    assert not SecurityReport.objects.exists()


def test_honeypot_looks_like_success_and_stores_nothing(db, reports_allowed):
    client = Client()
    response = _post(client, data={**GOOD, "website": "http://spam.example"})
    assert response.status_code == 302
    assert client.get("/security/report/sent").status_code == 200
    assert not SecurityReport.objects.exists() and not mail.outbox


def test_rate_limit_per_client_address_gives_a_clear_429_and_loses_nothing(db, reports_allowed):
    for n in range(3):
        assert _post(data={**GOOD, "subject": f"report {n}"}).status_code == 302
    blocked = _post(data={**GOOD, "subject": "the fourth one"})
    assert blocked.status_code == 429 and blocked["Retry-After"] == "3600"
    html = blocked.content.decode()
    assert 'id="rate-limited"' in html
    assert "the fourth one" in html and "onerror=alert(1)" in html.replace("&lt;", "<").replace("&gt;", ">")
    assert "security@example.com" in html  # where to send it instead
    assert SecurityReport.objects.count() == 3  # the earlier three are kept
    assert _post(data=GOOD, ip="203.0.113.9").status_code == 302  # another address is not affected
    old = timezone.now() - timedelta(hours=2)
    SecurityReport.objects.filter(client_ip="198.51.100.7").update(received_at=old)
    assert _post(data=GOOD).status_code == 302  # an hour later the address may report again


def test_rate_limit_uses_the_client_address_behind_a_trusted_proxy(db, reports_allowed, settings):
    settings.MAMORI_TRUSTED_PROXIES = ["10.0.0.0/8"]
    for n in range(3):
        assert _post(data=GOOD, ip="10.0.0.2", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}").status_code == 302
    assert set(SecurityReport.objects.values_list("client_ip", flat=True)) == {"192.0.2.0", "192.0.2.1", "192.0.2.2"}
    # A client that is not a trusted proxy cannot pick its address with the header.
    for _ in range(3):
        _post(data=GOOD, ip="198.51.100.50", HTTP_X_FORWARDED_FOR="192.0.2.99")
    assert _post(data=GOOD, ip="198.51.100.50", HTTP_X_FORWARDED_FOR="192.0.2.100").status_code == 429


def test_unknown_client_addresses_share_one_bucket(db, reports_allowed, settings):
    settings.MAMORI_TRUSTED_PROXIES = ["10.0.0.0/8"]
    codes = [_post(data=GOOD, ip="10.0.0.2", HTTP_X_FORWARDED_FOR=f"garbage-{n}").status_code for n in range(4)]
    assert codes == [302, 302, 302, 429]
    assert list(SecurityReport.objects.values_list("client_ip", flat=True)) == [None] * 3


def test_many_per_minute_from_one_address(db, reports_allowed):
    codes = [_post(data={**GOOD, "subject": f"n{n}"}).status_code for n in range(10)]
    assert codes == [302] * 3 + [429] * 7
    assert SecurityReport.objects.count() == 3


def test_form_off_when_the_limit_is_zero(db, settings):
    settings.MAMORI_SECURITY_REPORTS_PER_HOUR = 0
    assert Client().get(URL).status_code == 404
    assert "/security/report" not in Client().get("/.well-known/security.txt").content.decode()


def test_security_txt_follows_rfc_9116(db, settings):
    settings.MAMORI_SECURITY_REPORTS_PER_HOUR = 5
    settings.BASE_URL = "https://mamori.example.com"
    response = Client().get("/.well-known/security.txt")
    assert response.status_code == 200 and response["Content-Type"] == "text/plain; charset=utf-8"
    lines = response.content.decode().splitlines()
    fields = [line.split(": ", 1) for line in lines if line and not line.startswith("#")]
    names = [name for name, _ in fields]
    assert names.count("Expires") == 1 and "Contact" in names
    contacts = [value for name, value in fields if name == "Contact"]
    assert contacts[0] == "mailto:security@example.com"
    assert "https://mamori.example.com/security/report" in contacts
    expires = datetime.strptime(dict(fields)["Expires"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert timedelta(days=364) < expires - timezone.now() <= timedelta(days=365)
    assert dict(fields)["Preferred-Languages"] == "ja, en"
    assert dict(fields)["Canonical"] == "https://mamori.example.com/.well-known/security.txt"
    assert dict(fields)["Policy"] == "https://example.com/security-policy"
    redirect = Client().get("/security.txt")
    assert redirect.status_code == 301 and redirect["Location"] == "/.well-known/security.txt"


def test_security_txt_expires_is_computed_at_request_time():
    from mamori.incidents.views_public import security_txt_lines

    then = datetime(2030, 5, 1, 12, 0, 30, 123, tzinfo=UTC)
    assert "Expires: 2031-05-01T12:00:30Z" in security_txt_lines(then)


def test_security_txt_uses_the_provider_profile(db, settings, tmp_path):
    profile = tmp_path / "profile.toml"
    profile.write_text('[contacts]\nsecurity_email = "psirt@corp.example"\n'
                       'security_report_url = "https://corp.example/psirt"\npreferred_languages = ["en"]\n'
                       'pgp_key_url = "https://corp.example/pgp.asc"\n', encoding="utf-8")
    settings.MAMORI_PROVIDER_PROFILE = str(profile)
    text = Client().get("/.well-known/security.txt").content.decode()
    assert "Contact: mailto:psirt@corp.example" in text and "Contact: https://corp.example/psirt" in text
    assert "Preferred-Languages: en" in text and "Encryption: https://corp.example/pgp.asc" in text
    assert "Policy:" not in text
