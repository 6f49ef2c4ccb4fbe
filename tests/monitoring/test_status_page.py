"""The public status page and its Atom feed (RFC 4287)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree as ET

import pytest
from django.test import Client
from django.utils import timezone

from mamori.monitoring import probes
from mamori.monitoring.components import COMPONENTS
from mamori.monitoring.models import ProbeResult

ATOM = "{http://www.w3.org/2005/Atom}"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


@pytest.fixture
def status_items(monkeypatch):
    """What the incidents and notices apps publish, in their documented shapes."""
    now = timezone.now()
    items = {
        "incidents": [
            {"id": 7, "title": "Slow API responses", "severity": "minor", "state": "investigating",
             "started_at": now - timedelta(minutes=30), "resolved_at": None, "components": ["api"],
             "updated_at": now - timedelta(minutes=5), "url": "/status#incident-7",
             "updates": [{"at": now - timedelta(minutes=5), "text": "We are investigating <slow> responses."}]},
            {"id": 3, "title": "Mail delayed", "severity": "major", "state": "resolved",
             "started_at": now - timedelta(days=3), "resolved_at": now - timedelta(days=3, hours=-1),
             "components": ["mail"], "updated_at": now - timedelta(days=2), "url": "", "updates": []},
        ],
        "notices": [
            {"id": 11, "kind": "maintenance", "title": "Database upgrade", "body": "PostgreSQL 17 & more",
             "starts_at": now - timedelta(minutes=10), "ends_at": now + timedelta(hours=1),
             "components": ["database"], "impact": "Read-only for up to 10 minutes", "emergency": False,
             "published_at": now - timedelta(days=8), "updated_at": now - timedelta(days=8), "url": ""},
        ],
    }
    monkeypatch.setattr("mamori.incidents.queries.status_page_incidents", lambda now=None, days=90: items["incidents"])
    monkeypatch.setattr("mamori.notices.queries.status_page_notices", lambda now=None: items["notices"])
    return items


def _component_state(html: str, key: str) -> str:
    match = re.search(rf'id="component-{key}".*?class="state state-(\w+)"', html, re.S)
    return match.group(1)


def test_public_page_without_login_and_without_tenant_data(tenant):
    probes.run_probes()
    response = Client().get("/status?lang=en")
    assert response.status_code == 200
    html = response.content.decode()
    assert "All systems operational" in html
    for key in COMPONENTS:
        assert _component_state(html, key) == "operational"
    assert html.count("<rect ") == 90 * len(COMPONENTS)
    assert html.count('class="up-full"') == len(COMPONENTS)  # today, measured
    assert "100.00% uptime" in html
    assert tenant.name not in html and tenant.slug not in html
    assert "style=" not in html and "<script" not in html  # CSP: no inline style or script
    assert "csrfmiddlewaretoken" not in html  # a cacheable public page carries no per-user token
    assert "Set-Cookie" not in str(response.headers)
    assert response["Cache-Control"] in ("public, max-age=30", "max-age=30, public")
    assert "Accept-Language" in response["Vary"]
    assert response["Content-Language"] == "en"


def test_japanese(db):
    response = Client().get("/status", HTTP_ACCEPT_LANGUAGE="ja")
    html = response.content.decode()
    assert response["Content-Language"] == "ja"
    assert '<html lang="ja">' in html
    assert "稼働状況" in html
    assert "メンテナンス予定" in html and "コンポーネント" in html
    assert Client().get("/status?lang=en", HTTP_ACCEPT_LANGUAGE="ja")["Content-Language"] == "en"


def test_states_follow_the_probes(db):
    now = timezone.now()
    probes.run_probes(now=now - timedelta(minutes=2))
    probes.run_probes(now=now - timedelta(minutes=1))
    ProbeResult.objects.filter(component="storage").update(ok=False, detail="PermissionError")
    ProbeResult.objects.filter(component="mail", at=now - timedelta(minutes=1)).update(ok=False)
    html = Client().get("/status?lang=en").content.decode()
    assert _component_state(html, "storage") == "outage"  # the last two probes failed
    assert _component_state(html, "mail") == "degraded"  # one failure in five minutes
    assert _component_state(html, "database") == "operational"
    assert "Some components are down" in html
    assert "PermissionError" not in html  # probe internals stay in the provider console


def test_no_recent_probes_is_no_data(db):
    probes.run_probes(now=timezone.now() - timedelta(minutes=10))
    html = Client().get("/status?lang=en").content.decode()
    assert "No recent measurements" in html
    assert _component_state(html, "console") == "unknown"


def test_incidents_and_maintenance(db, status_items):
    probes.run_probes()
    html = Client().get("/status?lang=en").content.decode()
    assert _component_state(html, "api") == "degraded"  # open minor incident
    assert _component_state(html, "database") == "maintenance"  # maintenance in progress
    assert _component_state(html, "mail") == "operational"  # resolved incident
    assert "Slow API responses" in html and "We are investigating &lt;slow&gt; responses." in html
    assert "Database upgrade" in html and "Read-only for up to 10 minutes" in html
    assert "Mail delayed" in html  # under past incidents
    assert "Some components are degraded" in html
    status_items["incidents"][0]["severity"] = "critical"
    html = Client().get("/status?lang=en").content.decode()
    assert _component_state(html, "api") == "outage"


def test_feed_is_strict_atom(db, status_items):
    response = Client().get("/status/feed.atom?lang=en")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/atom+xml; charset=utf-8"
    assert "public" in response["Cache-Control"] and "max-age=60" in response["Cache-Control"]
    from lxml import etree

    root = etree.fromstring(response.content, etree.XMLParser(recover=False, resolve_entities=False))
    assert root.tag == f"{ATOM}feed"
    feed = ET.fromstring(response.content)
    for name in ("id", "title", "updated", "author"):
        assert feed.find(f"{ATOM}{name}") is not None, name
    assert feed.find(f"{ATOM}author/{ATOM}name").text
    assert RFC3339.match(feed.find(f"{ATOM}updated").text)
    self_link = feed.find(f"{ATOM}link[@rel='self']")
    assert self_link.get("href") == "http://testserver/status/feed.atom"
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 3
    ids = [e.find(f"{ATOM}id").text for e in entries]
    assert len(set(ids)) == 3
    assert all(re.match(r"^tag:[a-z0-9.-]+,\d{4}-\d\d-\d\d:(incident|notice)/\d+$", i) for i in ids), ids
    for entry in entries:
        assert RFC3339.match(entry.find(f"{ATOM}updated").text)
        assert entry.find(f"{ATOM}title").text
        assert entry.find(f"{ATOM}link[@rel='alternate']").get("href").startswith("http://testserver/")
    # Newest update first; the incident's public update is in its content.
    assert entries[0].find(f"{ATOM}title").text == "Incident: Slow API responses"
    assert "We are investigating <slow> responses." in entries[0].find(f"{ATOM}content").text
    notice = next(e for e in entries if "notice/11" in e.find(f"{ATOM}id").text)
    assert notice.find(f"{ATOM}title").text == "Maintenance: Database upgrade"
    assert "PostgreSQL 17 & more" == notice.find(f"{ATOM}content").text
    # ids are stable from one fetch to the next
    again = ET.fromstring(Client().get("/status/feed.atom?lang=en").content)
    assert [e.find(f"{ATOM}id").text for e in again.findall(f"{ATOM}entry")] == ids


def test_empty_feed_is_valid_and_japanese(db):
    response = Client().get("/status/feed.atom", HTTP_ACCEPT_LANGUAGE="ja")
    feed = ET.fromstring(response.content)
    assert feed.get("{http://www.w3.org/XML/1998/namespace}lang") == "ja"
    assert feed.find(f"{ATOM}title").text == "サービスの稼働状況"
    assert feed.findall(f"{ATOM}entry") == []
    updated = datetime.fromisoformat(feed.find(f"{ATOM}updated").text.replace("Z", "+00:00"))
    assert abs(updated - datetime.now(UTC)) < timedelta(minutes=1)


@pytest.mark.parametrize("path", ["/status", "/status/feed.atom"])
def test_read_only(db, path):
    assert Client().post(path).status_code == 405
