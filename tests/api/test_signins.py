"""GET /api/v1/signins (signins.view, unit admin scoping) and GET /api/v1/me/signins (any role)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.accounts.signin_support import record_signin, sign_in, unit_world

T0 = datetime(2026, 4, 1, 14, 30, tzinfo=UTC)


def _seed(acme):
    record_signin(acme.admin, T0, ip="203.0.113.1")
    record_signin(acme.editor, T0 + timedelta(hours=1), ip="198.51.100.10", method="login_link")
    record_signin(None, T0 + timedelta(hours=2), action="auth.login_failed", ip="192.0.2.66",
                  reason="unknown_account", email="intruder@evil.example")
    record_signin(acme.viewer, T0 + timedelta(hours=3), action="auth.login_failed", ip="192.0.2.66",
                  reason="bad_credentials")
    record_signin(acme.viewer, T0 + timedelta(hours=3, minutes=1), action="auth.lockout", ip="192.0.2.66")


def _items(api, **params):
    response = api.get("/signins", params=params)
    assert response.status_code == 200, response.content
    return response.json()["items"]


def test_admin_lists_and_filters(acme):
    _seed(acme)
    items = _items(acme.admin_api)
    assert {"intruder@evil.example", acme.admin.email, acme.editor.email} <= {i["email"] for i in items}
    failure = next(i for i in items if i["email"] == "intruder@evil.example")
    assert failure == {**failure, "result": "failure", "reason": "unknown_account", "user_id": None,
                       "method": "password", "ip": "192.0.2.66", "action": "auth.login_failed"}
    assert [i["result"] for i in _items(acme.admin_api, result="lockout")] == ["lockout"]
    assert {i["email"] for i in _items(acme.admin_api, user=acme.viewer.email)} == {acme.viewer.email}
    assert {i["user_id"] for i in _items(acme.admin_api, user_id=acme.editor.pk, result="success")} == {acme.editor.pk}
    assert [i["method"] for i in _items(acme.admin_api, method="login_link")] == ["login_link"]
    assert len(_items(acme.admin_api, ip="192.0.2.0/24")) == 3
    window = _items(acme.admin_api, since="2026-04-01T23:00:00%2B09:00", until="2026-04-02T00:00:00%2B09:00")
    assert [i["ip"] for i in window] == ["203.0.113.1"]
    assert window[0]["occurred_at"].endswith("Z")


def test_paging(acme):
    for n in range(5):
        record_signin(acme.admin, T0 + timedelta(minutes=n))
    first = acme.admin_api.get("/signins", params={"limit": 3, "user_id": acme.admin.pk}).json()
    assert len(first["items"]) == 3 and first["next_before"]
    second = acme.admin_api.get("/signins", params={"limit": 3, "user_id": acme.admin.pk,
                                                     "before": first["next_before"]}).json()
    assert len(second["items"]) == 2 and second["next_before"] is None


def test_bad_filters_are_422_naming_the_parameter(acme):
    for params, name in (({"ip": "nope"}, "ip"), ({"result": "nonsense"}, "result"),
                         ({"before": "zz!"}, "before"), ({"method": "DROP TABLE"}, "method"),
                         ({"since": "2026-04-02T00:00:00Z", "until": "2026-04-01T00:00:00Z"}, "until")):
        response = acme.admin_api.get("/signins", params=params)
        assert response.status_code == 422, (params, response.content)
        assert name in response.content.decode()


def test_viewer_and_editor_get_403(acme):
    for api in (acme.viewer_api, acme.editor_api):
        assert api.get("/signins").status_code == 403


def test_unit_admin_scoping(acme, make_api, api_token, user_factory):
    _seed(acme)
    boss, seller, helper = unit_world(acme.tenant, user_factory)
    record_signin(seller, T0, ip="198.51.100.31")
    record_signin(helper, T0, ip="198.51.100.32")
    api = make_api(api_token(boss))
    assert {i["email"] for i in _items(api)} == {seller.email}
    assert _items(api, user=helper.email) == []
    assert _items(api, user_id=acme.admin.pk) == []


def test_other_tenant_never_sees_acme(acme, outsider_api):
    _seed(acme)
    items = _items(outsider_api)
    assert all("acme" not in i["email"] and i["ip"] != "192.0.2.66" for i in items)
    assert _items(outsider_api, user_id=acme.editor.pk) == []


def test_me_signins_for_any_role(acme):
    _seed(acme)
    sign_in(acme.admin.email, "wrong password", ip="198.51.100.99")
    body = acme.viewer_api.get("/me/signins").json()
    assert {i["result"] for i in body["items"]} == {"failure", "lockout"}
    assert all(i["user_id"] == acme.viewer.pk for i in body["items"])
    assert [i["result"] for i in acme.viewer_api.get("/me/signins", params={"result": "lockout"}).json()["items"]] \
        == ["lockout"]
    assert acme.viewer_api.get("/me/signins", params={"result": "x"}).status_code == 422
    legacy = acme.viewer_api.get("/audit/my-sign-ins").json()["items"]
    assert {i["action"] for i in legacy} == {"auth.login_failed", "auth.lockout"}
