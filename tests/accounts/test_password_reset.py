"""Self-service password reset (allauth) inside one tenant, audited, without enumeration."""

import re

from django.test import Client

from mamori.audit.models import AuditEvent


def test_reset_answers_the_same_for_unknown_and_known_addresses(tenant, admin):
    client = Client()
    known = client.post("/t/acme/accounts/password/reset/", {"email": admin.email})
    unknown = client.post("/t/acme/accounts/password/reset/", {"email": "nobody@acme.example"})
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]


def test_reset_link_sets_password_through_the_audited_action(tenant, admin, mailoutbox):
    client = Client()
    client.post("/t/acme/accounts/password/reset/", {"email": admin.email})
    [mail] = mailoutbox
    assert mail.to == [admin.email]
    path = re.search(r"(/t/acme/accounts/password/reset/key/\S+/)", mail.body).group(1)
    form_page = client.get(path, follow=True)
    assert form_page.status_code == 200
    action_url = form_page.redirect_chain[-1][0] if form_page.redirect_chain else path
    new = "another long passphrase 77"
    done = client.post(action_url, {"password1": new, "password2": new})
    assert done.status_code == 302
    admin.refresh_from_db()
    assert admin.check_password(new)
    assert AuditEvent.objects.filter(action="user.password_set", target_id=str(admin.pk)).exists()


def test_reset_for_another_tenants_user_sends_nothing(tenant, admin, other_tenant, mailoutbox):
    response = Client().post("/t/globex/accounts/password/reset/", {"email": admin.email})
    assert response.status_code == 302
    assert mailoutbox == []
