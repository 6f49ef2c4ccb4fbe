"""CSV bulk user management (issue 3, item 3): preview, apply (all or nothing), export."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from mamori.access.models import OrgUnit, UnitAdminScope, UnitMembership
from mamori.access.roles import Role
from mamori.accounts import actions_csv
from mamori.accounts.actions_csv import ImportRejected, apply_user_import
from mamori.accounts.csv_users import MAX_ROWS, export_users, neutralise, preview, sample_csv
from mamori.accounts.models import ApiToken, Invitation, User
from mamori.accounts.secrets import hash_secret
from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent

HEADER = "email,name,role,units,language,action\r\n"


@pytest.fixture
def units(tenant):
    sales = OrgUnit.objects.create(name="営業部", code="SALES")
    tokyo = OrgUnit.objects.create(name="東京", parent=sales, code="SALES-TYO")
    osaka = OrgUnit.objects.create(name="大阪", parent=sales)
    dev = OrgUnit.objects.create(name="開発部", code="DEV")
    return {"sales": sales, "tokyo": tokyo, "osaka": osaka, "dev": dev}


@pytest.fixture
def mails(monkeypatch):
    """Mails queued by the import (the lifecycle helper's mail module), in order."""
    sent: list[tuple[str, str, dict]] = []
    monkeypatch.setattr("mamori.accounts.mail.enqueue_mail_on_commit",
                        lambda **kw: __import__("django.db").db.transaction.on_commit(
                            lambda: sent.append((kw["to"][0], kw["subject"], kw))))
    return sent


def csv_bytes(*rows: str, encoding: str = "utf-8", header: str = HEADER) -> bytes:
    return (header + "".join(r + "\r\n" for r in rows)).encode(encoding)


def errors_of(result) -> list[tuple[int, str, str]]:
    return [(e.line, e.column, e.code) for e in result.errors]


def nothing_written(before_users: int, before_events: int) -> None:
    assert User.objects.count() == before_users
    assert AuditEvent.objects.count() == before_events
    assert not Invitation.objects.exists()


# --- Preview -------------------------------------------------------------------------------------

def test_preview_plans_create_update_deactivate_and_writes_nothing(admin, editor, viewer, units):
    data = csv_bytes("new@acme.example,新人 太郎,editor,SALES-TYO;開発部,ja,",
                     "editor@acme.example,Ed Itor,reviewer,,,",
                     "viewer@acme.example,,,,,deactivate",
                     "admin@acme.example,,,,,")
    users, events = User.objects.count(), AuditEvent.objects.count()
    result = preview(actor_user=admin, data=data)
    assert result.ok, errors_of(result)
    assert [r.action for r in result.rows] == ["create", "update", "deactivate", "unchanged"]
    assert result.rows[0].units == ["DEV", "SALES-TYO"]
    assert result.rows[1].changes == {"name": ("editor", "Ed Itor"), "role": (Role.EDITOR, Role.REVIEWER)}
    assert result.counts == {"create": 1, "update": 1, "deactivate": 1, "unchanged": 1, "error": 0}
    assert result.encoding == "utf-8"
    assert User.objects.count() == users and AuditEvent.objects.count() == events


def test_preview_runs_a_fixed_number_of_queries(admin, units):
    small = csv_bytes(*[f"u{i}@acme.example,U {i},viewer,SALES-TYO,," for i in range(5)])
    large = csv_bytes(*[f"u{i}@acme.example,U {i},viewer,営業部/大阪,," for i in range(500)])
    with CaptureQueriesContext(connection) as few:
        assert preview(actor_user=admin, data=small).ok
    with CaptureQueriesContext(connection) as many:
        assert preview(actor_user=admin, data=large).ok
    assert len(many) == len(few) <= 6


def test_shift_jis_file_from_excel_is_detected(admin, units):
    data = ("メールアドレス,氏名,ロール,組織,言語,操作\r\n"
            "yamada@acme.example,山田 花子,閲覧者,営業部/東京,日本語,作成\r\n").encode("cp932")
    result = preview(actor_user=admin, data=data)
    assert result.ok, errors_of(result)
    assert result.encoding == "cp932"
    row = result.rows[0]
    assert (row.name, row.role, row.language, row.units, row.action) == (
        "山田 花子", Role.VIEWER, "ja", ["SALES-TYO"], "create")


def test_utf8_with_bom_is_detected(admin, units):
    data = "\ufeffEmail,Name\r\nbom@acme.example,髙橋 𠮷\r\n".encode()
    result = preview(actor_user=admin, data=data)
    assert result.ok, errors_of(result)
    assert result.encoding == "utf-8-sig"
    assert result.rows[0].name == "髙橋 𠮷" and result.columns == ["email", "name"]


@pytest.mark.parametrize(("data", "code"), [
    (b"", "empty"),
    (b"\xef\xbb\xbf\r\n", "empty"),
    (b"email,name\r\n", "empty"),
    ("email,name\r\nx@acme.example,\u5c71\u7530\r\n".encode("utf-16"), "encoding"),
    ("email,name\r\nx@acme.example,\u5c71\u7530\u592a\u90ce\u3068\u82b1\u5b50\r\n".encode("euc_jp"), "encoding"),
    (b"email,name\r\nx@acme.example,\x80\x80\r\n", "encoding"),
    (b"PK\x03\x04 workbook", "not_csv"),
    (b"mail address,name\r\nx@acme.example,X\r\n", "columns"),
    (b"name,role\r\nX,viewer\r\n", "columns"),
    (b"email,email\r\nx@acme.example,y@acme.example\r\n", "columns"),
    (b"email\tname\r\nx@acme.example\tX\r\n", "separator"),
    (b'email,name\r\nx@acme.example,"unterminated\r\n', "csv_syntax"),
])
def test_unreadable_files_are_refused_as_a_whole(admin, data, code):
    users, events = User.objects.count(), AuditEvent.objects.count()
    result = preview(actor_user=admin, data=data)
    assert not result.ok
    assert [e.code for e in result.file_errors] == [code]
    assert str(result.file_errors[0].message)
    with pytest.raises(ImportRejected):
        apply_user_import(actor=Actor.for_user(admin), data=data)
    nothing_written(users, events)


def test_too_many_rows_is_a_clear_error_not_a_500(admin):
    data = ("email\n" + "".join(f"user{i}@acme.example\n" for i in range(100_000))).encode()
    result = preview(actor_user=admin, data=data)
    assert [e.code for e in result.file_errors] == ["too_many_rows"]
    assert result.file_errors[0].line == MAX_ROWS + 2
    assert "20,000" in str(result.file_errors[0].message)


def test_too_large_file_is_refused(admin):
    data = b"email,name\n" + b"x@acme.example," + b"a" * (5 * 1024 * 1024)
    assert [e.code for e in preview(actor_user=admin, data=data).file_errors] == ["too_large"]


def test_per_row_errors_with_line_and_column(admin, editor, units):
    data = csv_bytes(
        "ok@acme.example,OK,viewer,,,",                       # 2
        "not-an-address,X,viewer,,,",                          # 3
        "ok@acme.example,Twice,viewer,,,",                     # 4 duplicate in the file
        "editor@acme.example,,,,,create",                      # 5 exists
        "ghost@acme.example,,,,,update",                       # 6 unknown user
        "ghost2@acme.example,,,,,deactivate",                  # 7 unknown user
        "r@acme.example,,superuser,,,",                        # 8 unknown role
        "u@acme.example,,,営業部/名古屋,,",                     # 9 unknown unit
        'f@acme.example,"=HYPERLINK(""http://evil.example"",""x"")",,,,',  # 10 formula
        "l@acme.example,,,,fr,",                               # 11 language
        "a@acme.example,,,,,drop",                             # 12 action
        ",Nobody,,,,",                                         # 13 missing e-mail
        "OK@ACME.EXAMPLE,Case,viewer,,,",                      # 14 duplicate, other case
        "p@acme.example,@SUM(1+1),,,,",                        # 15 formula
        "m@acme.example,x,viewer,,,,extra",                    # 16 more cells than header
    )
    users, events = User.objects.count(), AuditEvent.objects.count()
    result = preview(actor_user=admin, data=data)
    assert errors_of(result) == [
        (3, "email", "invalid_email"),
        (4, "email", "duplicate_in_file"),
        (5, "email", "exists"),
        (6, "email", "unknown_user"),
        (7, "email", "unknown_user"),
        (8, "role", "unknown_role"),
        (9, "units", "unknown_unit"),
        (10, "name", "formula"),
        (11, "language", "unknown_language"),
        (12, "action", "unknown_action"),
        (13, "email", "required"),
        (14, "email", "duplicate_in_file"),
        (15, "name", "formula"),
        (16, "", "extra_cells"),
    ]
    assert result.rows[0].action == "create" and not result.rows[0].errors
    with translation.override("en"):
        assert "line 2" in str(result.rows[2].errors[0].message)
    with pytest.raises(ImportRejected) as rejected:
        apply_user_import(actor=Actor.for_user(admin), data=data)
    assert len(rejected.value.preview.errors) == 14
    nothing_written(users, events)


def test_error_messages_are_japanese_and_english(admin):
    result = preview(actor_user=admin, data=csv_bytes("nope,,,,,"))
    message = result.rows[0].errors[0].message
    with translation.override("en"):
        assert "is not a valid e-mail address" in str(message)
    with translation.override("ja"):
        assert "有効なメールアドレスではありません" in str(message)


def test_formula_cells_are_refused_in_every_column(admin):
    for payload in ("=1+1", "+1", "-1", "@x", "\tx", " =1"):
        row = f'"{payload}@acme.example","{payload}",viewer,,,'
        result = preview(actor_user=admin, data=csv_bytes(row))
        assert ("formula" in {e.code for e in result.errors}), payload


def test_unit_admin_is_limited_to_their_units(tenant, admin, units, user_factory):
    boss = user_factory(tenant, "boss@acme.example", Role.UNIT_ADMIN)
    UnitAdminScope.objects.create(user=boss, unit=units["sales"])
    inside = user_factory(tenant, "inside@acme.example", Role.EDITOR)
    UnitMembership.objects.create(user=inside, unit=units["osaka"])
    outside = user_factory(tenant, "outside@acme.example", Role.EDITOR)
    UnitMembership.objects.create(user=outside, unit=units["dev"])
    data = csv_bytes(
        "n1@acme.example,,viewer,SALES-TYO,,",       # 2 fine
        "n2@acme.example,,tenant_admin,SALES,,",     # 3 role not allowed
        "n3@acme.example,,viewer,DEV,,",             # 4 unit outside scope
        "n4@acme.example,,viewer,,,",                # 5 no unit: would be invisible to them
        "inside@acme.example,Inside,,SALES-TYO,,",    # 6 fine
        "outside@acme.example,,,,,deactivate",       # 7 not theirs: "no such user"
        "admin@acme.example,,viewer,,,update",       # 8 an admin: "no such user"
    )
    result = preview(actor_user=boss, data=data)
    assert errors_of(result) == [(3, "role", "role_not_allowed"), (4, "units", "unit_not_allowed"),
                                 (5, "units", "units_required"), (7, "email", "unknown_user"),
                                 (8, "email", "unknown_user")]
    ok = csv_bytes("n1@acme.example,,viewer,SALES-TYO,,", "inside@acme.example,Inside,,SALES-TYO,,")
    outcome = apply_user_import(actor=Actor.for_user(boss), data=ok)
    assert (outcome.created, outcome.updated) == (1, 1)
    assert set(UnitMembership.objects.filter(user=inside).values_list("unit__code", flat=True)) == {"SALES-TYO"}


def test_last_admin_and_own_account_are_protected(admin, editor):
    result = preview(actor_user=admin, data=csv_bytes("admin@acme.example,,,,,deactivate",
                                                      "editor@acme.example,,tenant_admin,,,"))
    assert errors_of(result) == [(2, "action", "self")]
    result = preview(actor_user=admin, data=csv_bytes("admin@acme.example,Me,viewer,,,"))
    assert errors_of(result) == [(2, "email", "self")]


def test_demoting_every_other_admin_is_refused(tenant, admin, user_factory):
    other = user_factory(tenant, "second@acme.example", Role.TENANT_ADMIN)
    result = preview(actor_user=admin, data=csv_bytes(f"{other.email},,viewer,,,"))
    assert result.ok  # the actor stays an admin


def test_viewer_cannot_preview_or_apply(viewer):
    assert [e.code for e in preview(actor_user=viewer, data=csv_bytes("x@acme.example,,,,,")).file_errors] == [
        "forbidden"]
    from mamori.access.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        apply_user_import(actor=Actor.for_user(viewer), data=csv_bytes("x@acme.example,,,,,"))
    assert AuditEvent.objects.filter(action="access.denied").exists()
    assert not User.objects.filter(email="x@acme.example").exists()


# --- Apply ---------------------------------------------------------------------------------------

def test_apply_writes_users_invitations_memberships_events_and_mails(admin, editor, viewer, units, mails,
                                                                     django_capture_on_commit_callbacks):
    from mamori.accounts.actions import create_api_token

    token, _raw = create_api_token(actor=Actor.for_user(admin), user=viewer, name="t")
    data = csv_bytes("new@acme.example,新人,editor,SALES-TYO;DEV,ja,",
                     "editor@acme.example,Ed,reviewer,営業部/大阪,,",
                     "viewer@acme.example,,,,,deactivate")
    stamp = User.objects.get(pk=editor.pk).session_stamp
    with django_capture_on_commit_callbacks(execute=True):
        outcome = apply_user_import(actor=Actor.for_user(admin), data=data)
    assert outcome.as_dict() == {"created": 1, "updated": 1, "deactivated": 1, "unchanged": 0}

    new = User.objects.get(email="new@acme.example")
    assert (new.name, new.role, new.language, new.is_invited) == ("新人", Role.EDITOR, "ja", True)
    assert set(UnitMembership.objects.filter(user=new).values_list("unit__code", flat=True)) == {"SALES-TYO", "DEV"}
    invitation = Invitation.objects.get(user=new)
    assert invitation.is_pending and invitation.invited_by == admin and len(invitation.token_hash) == 64

    editor.refresh_from_db()
    assert (editor.name, editor.role) == ("Ed", Role.REVIEWER) and editor.session_stamp != stamp
    assert list(UnitMembership.objects.filter(user=editor).values_list("unit", flat=True)) == [units["osaka"].pk]
    viewer.refresh_from_db()
    assert not viewer.is_active
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None

    events = {e.action: e for e in AuditEvent.objects.filter(action__in=[
        "user.invited", "user.updated", "user.role_changed", "user.suspended", "users.imported"])}
    assert set(events) == {"user.invited", "user.updated", "user.role_changed", "user.suspended", "users.imported"}
    assert events["user.invited"].target_id == str(new.pk)
    assert events["user.invited"].after["units"] == sorted([units["tokyo"].pk, units["dev"].pk])
    assert events["user.role_changed"].after["role"] == Role.REVIEWER
    assert events["user.updated"].after == {"name": "Ed", "units": [units["osaka"].pk]}
    assert events["user.suspended"].after["is_active"] is False
    assert events["users.imported"].after["created"] == 1

    # The invitation mail carries the secret whose hash is stored; the link works once.
    invite = next(kw for to, _s, kw in mails if to == "new@acme.example")
    secret = invite["body"].split("/invitation/")[1].split("/")[0]
    assert hash_secret(secret) == invitation.token_hash
    assert secret not in repr(list(AuditEvent.objects.values_list("after", flat=True)))
    assert {to for to, _s, _kw in mails} == {"new@acme.example", "viewer@acme.example"}


def test_apply_is_all_or_nothing_when_a_write_fails_midway(admin, editor, units, mails, monkeypatch,
                                                          django_capture_on_commit_callbacks):
    users, events = User.objects.count(), AuditEvent.objects.count()

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(actions_csv, "_deactivate", broken)  # after creates and updates were written
    data = csv_bytes("a@acme.example,A,,,,", "b@acme.example,B,,,,", "editor@acme.example,Changed,,,,")
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        apply_user_import(actor=Actor.for_user(admin), data=data)
    nothing_written(users, events)
    assert User.objects.get(pk=editor.pk).name == "editor"
    assert mails == []


def test_apply_with_one_bad_row_writes_nothing(admin, mails, django_capture_on_commit_callbacks):
    users, events = User.objects.count(), AuditEvent.objects.count()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ImportRejected):
        apply_user_import(actor=Actor.for_user(admin), data=csv_bytes("a@acme.example,,,,,", "b@,,,,,"))
    nothing_written(users, events)
    assert mails == []


def test_reimporting_the_same_file_changes_nothing(admin, units, mails):
    data = csv_bytes("a@acme.example,A,editor,DEV,en,")
    apply_user_import(actor=Actor.for_user(admin), data=data)
    result = preview(actor_user=admin, data=data)
    assert [r.action for r in result.rows] == ["unchanged"]


# --- Export --------------------------------------------------------------------------------------

def test_export_round_trips_and_neutralises_formulas(admin, editor, viewer, units):
    UnitMembership.objects.create(user=editor, unit=units["tokyo"])
    UnitMembership.objects.create(user=editor, unit=units["osaka"])
    User.objects.filter(pk=viewer.pk).update(name="=HYPERLINK(\"http://evil.example\")", is_active=False)
    User.objects.filter(pk=editor.pk).update(name="-Ed", language="ja")
    data = export_users(User.objects.order_by("email"))
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["email", "name", "role", "units", "language", "action"]
    by_email = {r[0]: r for r in rows[1:]}
    assert by_email["viewer@acme.example"][1] == "'=HYPERLINK(\"http://evil.example\")"
    assert by_email["viewer@acme.example"][5] == "deactivate"
    assert by_email["editor@acme.example"] == ["editor@acme.example", "'-Ed", "editor", "SALES-TYO;営業部/大阪",
                                               "ja", ""]
    for cell in (c for r in rows for c in r):
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    # Importing the export changes nothing.
    result = preview(actor_user=admin, data=data)
    assert result.ok, errors_of(result)
    assert {r.action for r in result.rows} == {"unchanged"}


def test_export_in_shift_jis_round_trips(admin, editor, units):
    UnitMembership.objects.create(user=editor, unit=units["osaka"])
    User.objects.filter(pk=editor.pk).update(name="編集 者")
    data = export_users(User.objects.all(), encoding="cp932", header="ja")
    assert data.decode("cp932").startswith("メールアドレス,氏名,ロール,組織,言語,操作")
    result = preview(actor_user=admin, data=data)
    assert result.encoding == "cp932" and {r.action for r in result.rows} == {"unchanged"}


def test_neutralise():
    assert [neutralise(v) for v in ("=1", "+1", "-1", "@a", "\ta", "\ra", "a=1", "", "'x")] == [
        "'=1", "'+1", "'-1", "'@a", "'\ta", "'\ra", "a=1", "", "'x"]


def test_sample_csv_previews_cleanly_once_its_units_exist(admin, units):
    UnitMembership  # noqa: B018
    for email in ("suzuki@example.co.jp", "former@example.co.jp"):
        from mamori.accounts.actions import create_user

        create_user(actor=Actor.for_user(admin), email=email)
    result = preview(actor_user=admin, data=sample_csv())
    assert result.ok, errors_of(result)
    assert [r.action for r in result.rows] == ["create", "create", "update", "deactivate"]
