"""The generated security whitepaper (issue 8 item 2, clause 14.1.1).

Every number comes from the live configuration, so changing a setting changes the text;
each section shows its controls' latest stored results; both languages carry every clause
number of ``SECTIONS``; an empty provider profile is named, never filled with invented text.
"""

from __future__ import annotations

import dataclasses
import io
import re

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from mamori.compliance import whitepaper
from mamori.compliance.models import ControlResult, ControlRun
from mamori.compliance.sections import SECTIONS
from mamori.core import provider_profile

pytestmark = pytest.mark.django_db

EMPTY_PROFILE = "# an empty provider profile\n"


def md(lang: str = "ja") -> str:
    return whitepaper.render(lang, "md").decode("utf-8")


def section_text(text: str, clause: str) -> str:
    """The Markdown of the section whose heading ends with ``(clause)``."""
    parts = re.split(r"(?m)^### ", text)
    for part in parts:
        heading = part.splitlines()[0] if part else ""
        if heading.endswith(f"({clause})") or f"({clause} /" in heading or f"/ {clause})" in heading:
            return part
    raise AssertionError(f"no section for {clause}")


@pytest.fixture
def empty_profile(settings, tmp_path):
    path = tmp_path / "profile.toml"
    path.write_text(EMPTY_PROFILE, encoding="utf-8")
    settings.MAMORI_PROVIDER_PROFILE = str(path)
    return path


# --- numbers follow the configuration ------------------------------------------------------

@pytest.mark.parametrize("lang, before, after", [
    ("ja", "翌日から30日間の猶予期間", "翌日から60日間の猶予期間"),
    ("en", "grace period of 30 days", "grace period of 60 days"),
])
def test_grace_period_comes_from_settings(settings, lang, before, after):
    settings.MAMORI_TERMINATION_GRACE_DAYS = 30
    assert before in section_text(md(lang), "CLD.8.1.5")
    settings.MAMORI_TERMINATION_GRACE_DAYS = 60
    text = md(lang)
    assert after in section_text(text, "CLD.8.1.5") and before not in text
    # the responsibility table follows too
    assert "60" in section_text(text, "6.1.1")


def test_password_minimum_length_of_the_default_policy(monkeypatch):
    from mamori.accounts import policy

    assert "12〜128文字" in section_text(md("ja"), "9.2.4")
    monkeypatch.setattr(policy, "DEFAULT", dataclasses.replace(policy.DEFAULT, min_length=15))
    ja, en = md("ja"), md("en")
    assert "15〜128文字" in section_text(ja, "9.2.4") and "12〜128文字" not in ja
    assert "15 to 128 characters" in section_text(en, "9.2.4")


def test_maintenance_lead_days_and_argon2_and_retention(settings):
    settings.MAMORI_MAINTENANCE_LEAD_DAYS = 10
    settings.MAMORI_ARGON2 = {"memory_cost": 65536, "time_cost": 3, "parallelism": 2}
    settings.AUDIT_RETENTION_DAYS = {**settings.AUDIT_RETENTION_DAYS, "api": 123}
    text = md("ja")
    assert "10日前まで" in section_text(text, "12.1.2")
    assert "メモリ 65536 KiB、反復回数 3、並列度 2" in section_text(text, "9.2.4")
    assert "123日" in section_text(text, "12.4.1")
    en = md("en")
    assert "at least 10 days in advance" in section_text(en, "12.1.2")


def test_backup_generations_offsite_and_drill(settings):
    settings.BACKUP_KEEP_DAILY, settings.BACKUP_KEEP_WEEKLY = 14, 8
    settings.BACKUP_OFFSITE_DIR = ""
    settings.BACKUP_DRILL_EVERY_DAYS = 5
    settings.MAMORI_TENANT_BACKUP_KEEP_DAYS = 21
    text = section_text(md("en"), "12.3.1")
    assert "14 daily and 8 weekly generations" in text
    assert "every 5 days" in text and "kept for 21 days" in text
    assert "No off-site copy of the backups is configured." in text
    settings.BACKUP_OFFSITE_DIR = "/mnt/offsite"
    text = section_text(md("ja"), "12.3.1")
    assert "遠隔地の保管先" in text and "offsite-backups" in text


@pytest.mark.parametrize("preset, phrase", [
    ("business_6h", "Within 6 hours"), ("within_24h", "Within 24 hours"), ("one_business_day", "next business day"),
    ("custom:48h", "Within 48 hours"),
])
def test_incident_notification_policy_from_settings(settings, preset, phrase):
    settings.MAMORI_INCIDENT_NOTIFICATION_POLICY = preset
    assert phrase in section_text(md("en"), "16.1.1")


def test_invalid_incident_policy_is_named(settings):
    settings.MAMORI_INCIDENT_NOTIFICATION_POLICY = "whenever"
    assert "【未設定: MAMORI_INCIDENT_NOTIFICATION_POLICY (whenever)】" in section_text(md("ja"), "16.1.1")


def test_responsibility_split_follows_the_export_feature(monkeypatch):
    from mamori.compliance import whitepaper_facts

    text = section_text(md("en"), "6.1.1")
    assert "download a full export" in text
    original = whitepaper_facts._features

    def without_export():
        return {**original(), "tenant_export": False}

    monkeypatch.setattr(whitepaper_facts, "_features", without_export)
    text = section_text(md("en"), "6.1.1")
    assert "download a full export" not in text and "offers no full export" in text


# --- structure and languages ---------------------------------------------------------------

@pytest.mark.parametrize("lang", ["ja", "en"])
@pytest.mark.parametrize("fmt", ["md", "html"])
def test_every_clause_number_in_both_languages(lang, fmt):
    from django.utils import translation

    text = whitepaper.render(lang, fmt).decode("utf-8")
    for number, section in enumerate(SECTIONS, start=1):
        clauses = [c for c in section.clauses if c != "status"]
        with translation.override(lang):
            title = str(section.title)
        if lang == "ja":
            assert not title.isascii(), f"untranslated section title {title!r}"
        heading = f"{number}. {title}" + (f" ({' / '.join(clauses)})" if clauses else "")
        if fmt == "html":
            from django.utils.html import escape

            heading = escape(heading)
        assert heading in text, heading


def test_japanese_reads_like_the_source_whitepapers():
    text = md("ja")
    assert "セキュリティホワイトペーパー" in text
    assert "### 1. 情報セキュリティのための方針群 (5.1.1)" in text
    assert "(CLD.8.1.5)" in text and "クラウドサービスカスタマの資産の除去" in text
    assert "| 項目 | 当社の責任 | お客様の責任 |" in text
    # です・ます調, no English left in the prose of a section
    removal = section_text(text, "CLD.8.1.5")
    assert "ます。" in removal and "grace" not in removal


def test_html_is_standalone_without_script_or_external_resources():
    html = whitepaper.render("ja", "html").decode("utf-8")
    assert html.startswith("<!DOCTYPE html>") and '<html lang="ja">' in html
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)=["']https?://""", html)
    assert "<link" not in html  # the stylesheet is inlined
    assert "@media print" in html and "@page" in html


def test_bad_language_or_format_is_refused():
    with pytest.raises(whitepaper.WhitepaperError):
        whitepaper.render("fr", "md")
    with pytest.raises(whitepaper.WhitepaperError):
        whitepaper.render("ja", "docx")


# --- check results ---------------------------------------------------------------------------

def _store(key: str, status: str, summary: str):
    from mamori.compliance import registry

    item = registry.get(key)
    now = timezone.now()
    run = ControlRun.objects.create(started_at=now, finished_at=now)
    return ControlResult.objects.create(run=run, key=item.key, clause=item.clause, section=item.section,
                                        title=str(item.title), status=status, summary=summary, checked_at=now)


def test_sections_say_not_yet_checked_before_any_run():
    text = section_text(md("ja"), "CLD.9.5.1")
    assert "未確認" in text and "Not yet checked" not in text


def test_a_failing_check_shows_as_failing_in_its_section():
    _store("CLD.9.5.1", "pass", "RLS forced on 23/23 tenant tables")
    text = section_text(md("en"), "CLD.9.5.1")
    assert "| Pass | RLS forced on 23/23 tenant tables |" in text
    _store("CLD.9.5.1", "fail", "RLS not forced on records_record")
    text = md("en")
    section = section_text(text, "CLD.9.5.1")
    assert "| Fail | RLS not forced on records_record |" in section
    assert "RLS forced on 23/23" not in section
    # only its own section
    assert "records_record" not in section_text(text, "12.3.1")
    html = whitepaper.render("ja", "html").decode("utf-8")
    assert re.search(r'wp-check-fail" data-control="CLD.9.5.1">.*?wp-badge-fail">不適合<', html, re.S)


# --- provider profile ----------------------------------------------------------------------

def test_missing_profile_fields_are_named_not_invented(empty_profile):
    assert "contacts.security_email" in provider_profile.missing()
    ja, en = md("ja"), md("en")
    assert "【未設定: contacts.security_email】" in section_text(ja, "16.1.1")
    assert "【未設定: statements.law】" in section_text(ja, "18.1.1")
    assert "【未設定: subprocessors】" in section_text(ja, "15.1.3")
    assert "[Not configured: company.name]" in en
    assert "example.com" not in ja and "(demo)" not in en
    html = whitepaper.render("ja", "html").decode("utf-8")
    assert '<mark class="missing">【未設定: contacts.security_email】</mark>' in html


def test_profile_values_appear(settings):
    text = md("ja")
    assert "security@example.com" in section_text(text, "16.1.2")
    assert "Example Cloud (demo)" in section_text(text, "15.1.3")
    assert "東日本" in section_text(text, "6.1.3")
    assert "株式会社マモリデモ" in text.splitlines()[0]


# --- public page and command ---------------------------------------------------------------

@pytest.mark.parametrize("lang, heading", [("ja", "セキュリティホワイトペーパー"), ("en", "Security whitepaper")])
def test_public_page_without_sign_in(client, lang, heading):
    response = client.get(f"/security/whitepaper?lang={lang}")
    assert response.status_code == 200
    body = response.content.decode()
    assert heading in body and "(CLD.9.5.1)" in body
    assert "/static/compliance/whitepaper.css" in body and "<style" not in body
    assert f"/security/whitepaper/{lang}.pdf" in body and f"/security/whitepaper/{lang}.md" in body
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_public_downloads(client):
    response = client.get("/security/whitepaper/en.md")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/markdown")
    assert 'filename="security-whitepaper-en.md"' in response["Content-Disposition"]
    assert client.get("/security/whitepaper/fr.md").status_code == 404
    assert client.get("/security/whitepaper/ja.exe").status_code == 404


def test_public_page_renders_once_until_something_changes(client, settings, monkeypatch):
    calls = []
    original = whitepaper.render_html

    def counting(document, **kwargs):
        calls.append(document.lang)
        return original(document, **kwargs)

    monkeypatch.setattr(whitepaper, "render_html", counting)
    settings.MAMORI_TERMINATION_GRACE_DAYS = 30
    first = client.get("/security/whitepaper?lang=ja").content.decode()
    second = client.get("/security/whitepaper?lang=ja").content.decode()
    assert len(calls) == 1 and "翌日から30日間" in first and "翌日から30日間" in second
    settings.MAMORI_TERMINATION_GRACE_DAYS = 45
    third = client.get("/security/whitepaper?lang=ja").content.decode()
    assert len(calls) == 2 and "翌日から45日間" in third
    _store("CLD.9.5.1", "fail", "RLS not forced on records_record")  # a new check result
    assert "RLS not forced on records_record" in client.get("/security/whitepaper?lang=ja").content.decode()
    assert len(calls) == 3


def test_cached_page_keeps_missing_markers_intact(client, empty_profile):
    for _attempt in range(2):
        body = client.get("/security/whitepaper?lang=en").content.decode()
        assert "[Not configured: contacts.security_email]" in body
        assert "[Not configured: [Not configured" not in body


def test_command_writes_a_file(tmp_path):
    out = tmp_path / "wp.md"
    call_command("whitepaper", "--lang", "en", "--format", "md", "--out", str(out))
    assert "(16.1.1)" in out.read_text(encoding="utf-8")
    buffer = io.StringIO()
    call_command("whitepaper", "--lang", "ja", "--format", "html", stdout=buffer)
    assert "<!DOCTYPE html>" in buffer.getvalue()
    with pytest.raises(CommandError, match="needs --out"):
        call_command("whitepaper", "--lang", "ja", "--format", "pdf")


# --- PDF -------------------------------------------------------------------------------------

def _pdf_tools_problem() -> str | None:
    import shutil

    from mamori.compliance.whitepaper_pdf import engine_problem

    return engine_problem() or (None if shutil.which("pdftoppm") else "needs pdftoppm (apt-get install poppler-utils)")


@pytest.fixture
def pdf_tools():
    import os

    problem = _pdf_tools_problem()
    if problem:
        if os.environ.get("MAMORI_REQUIRE_BROWSER") == "1":
            pytest.fail(f"MAMORI_REQUIRE_BROWSER=1 but {problem}")
        pytest.skip(problem)


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_pdf_renders_pages_with_text(pdf_tools, tmp_path, lang):
    import subprocess

    from PIL import Image

    pdf = whitepaper.render(lang, "pdf")
    assert pdf.startswith(b"%PDF-")
    path = tmp_path / f"wp-{lang}.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert pages >= 8
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    for section in SECTIONS:
        for clause in section.clauses:
            if clause != "status":
                assert clause in text, clause
    if lang == "ja":
        assert "セキュリティホワイトペーパー" in text and "責任分界" in text or "お客様の責任" in text
    # Rasterise the first two pages and check they are not blank.
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "2", str(path), str(tmp_path / "page")],
                   check=True)
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) == 2
    for png in pngs:
        image = Image.open(png).convert("L")
        dark = sum(image.histogram()[:128])
        assert dark > 0.002 * image.width * image.height, f"{png.name} looks blank"


def test_pdf_refused_with_a_clear_message_without_the_font(monkeypatch):
    from mamori.compliance import whitepaper_pdf

    monkeypatch.setattr(whitepaper_pdf, "cjk_font_installed", lambda: False)
    with pytest.raises(whitepaper_pdf.PdfUnavailable, match="fonts-noto-cjk"):
        whitepaper.render("ja", "pdf")


