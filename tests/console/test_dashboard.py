"""Dashboard: my counts, my previous sign-in, recent operations for those who may see them."""

from __future__ import annotations

from django.test import Client

from tests.conftest import PASSWORD


def test_admin_sees_counts_and_recent_operations(admin_client, record):
    response = admin_client.get(f"{admin_client.tenant_prefix}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<p class="stat"><a href="/t/acme/workspaces/">1</a></p>' in html
    assert '<p class="stat"><a href="/t/acme/records/">1</a></p>' in html
    assert 'href="/t/acme/audit/' in html  # recent operations link to their detail


def test_previous_sign_in_is_the_one_before_this_session(admin, tenant):
    first = Client()
    first.post("/t/acme/accounts/login/", {"login": admin.email, "password": PASSWORD},
               REMOTE_ADDR="198.51.100.7")
    html = first.get("/t/acme/").content.decode()
    assert "198.51.100.7" not in html  # first sign-in: nothing before it
    second = Client()
    second.post("/t/acme/accounts/login/", {"login": admin.email, "password": PASSWORD},
                REMOTE_ADDR="203.0.113.9")
    html = second.get("/t/acme/", REMOTE_ADDR="203.0.113.9").content.decode()
    assert "198.51.100.7" in html and "+09:00" in html


def test_viewer_sees_no_operation_log(viewer_client, record):
    html = viewer_client.get(f"{viewer_client.tenant_prefix}/").content.decode()
    assert "/t/acme/audit/" not in html  # neither the section nor the nav link
    assert "/t/acme/users/" not in html


def test_anonymous_is_sent_to_sign_in(client, tenant):
    response = client.get("/t/acme/")
    assert response.status_code == 302
    assert response["Location"] == "/t/acme/accounts/login/?next=/t/acme/"
