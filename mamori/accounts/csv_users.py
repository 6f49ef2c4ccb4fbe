"""CSV bulk user management (9.2.1): reading, checking and planning an import; writing an export.

Format (``docs/accounts/csv-import.md``): a header row, then one user per row, columns
``email,name,role,units,language,action`` (header names in English or Japanese:
メールアドレス, 氏名, ロール, 組織, 言語, 操作). Only ``email`` is required; an absent column
or an empty cell leaves that attribute unchanged on update (default on create).

``preview(actor_user=…, data=…)`` decodes the bytes (UTF-8, UTF-8 with BOM, Shift_JIS/cp932),
parses them with the csv module and returns a ``Preview``: the planned action of every row
and every error (line, column, message). It writes nothing and runs a fixed number of
queries whatever the file's size. ``mamori.accounts.actions_csv.apply_user_import`` applies
a preview without errors. ``export_users`` writes the same format (formula injection
neutralised per OWASP ASVS 5.0 1.2.10), so an export imports back unchanged.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import translation
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

from mamori.access.models import OrgUnit, UnitMembership
from mamori.access.roles import UNIT_ADMIN_GRANTABLE_ROLES, Perm, Role, can
from mamori.access.scope import administered_unit_ids

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
MAX_NAME = 150
MAX_EMAIL = 254

COLUMNS = ("email", "name", "role", "units", "language", "action")
HEADER_JA = {"email": "メールアドレス", "name": "氏名", "role": "ロール", "units": "組織",
             "language": "言語", "action": "操作"}
_HEADER_ALIASES = {
    "email": ("email", "e-mail", "emailaddress", "e-mailaddress", "mail", "メールアドレス", "メール",
              "eメール", "eメールアドレス"),
    "name": ("name", "fullname", "displayname", "氏名", "名前", "表示名"),
    "role": ("role", "ロール", "権限", "役割"),
    "units": ("units", "unit", "組織", "所属", "部署", "グループ"),
    "language": ("language", "lang", "言語"),
    "action": ("action", "操作", "処理"),
}
HEADER_MAP = {alias: column for column, aliases in _HEADER_ALIASES.items() for alias in aliases}

CREATE, UPDATE, DEACTIVATE, UNCHANGED = "create", "update", "deactivate", "unchanged"
_ACTION_ALIASES = {
    CREATE: ("create", "add", "new", "作成", "追加", "登録", "新規"),
    UPDATE: ("update", "change", "更新", "変更"),
    DEACTIVATE: ("deactivate", "suspend", "disable", "無効化", "停止", "利用停止", "無効"),
}
ACTION_MAP = {alias: value for value, aliases in _ACTION_ALIASES.items() for alias in aliases}
_LANGUAGE_MAP = {"ja": "ja", "en": "en", "japanese": "ja", "english": "en", "日本語": "ja", "英語": "en"}

# Cells a spreadsheet could run as a formula (OWASP ASVS 5.0 1.2.10; CWE-1236).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
UNIT_SEPARATOR = ";"
PATH_SEPARATOR = "/"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _fmt(message, params: dict):
    """``message % params``, translated when it is shown (not when the row is checked)."""
    return lazy(lambda: str(message) % params, str)()


# --- Results ---------------------------------------------------------------------------------

@dataclass
class RowError:
    line: int
    column: str  # one of COLUMNS, or "" for the whole row / file
    message: Any  # lazy translation: str() in the language in effect
    code: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column or None, "code": self.code, "message": str(self.message)}


@dataclass
class PlannedRow:
    line: int
    email: str
    action: str = ""  # create | update | deactivate | unchanged ("" when the row is in error)
    name: str = ""
    role: str = ""
    language: str = ""
    units: list[str] = field(default_factory=list)  # unit labels as given
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # field → (before, after), updates
    errors: list[RowError] = field(default_factory=list)
    # For apply: the existing user's id and the resolved unit ids (None: leave units alone).
    user_id: int | None = None
    unit_ids: set[int] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "line": self.line, "email": self.email, "action": self.action or None,
            "name": self.name, "role": self.role, "language": self.language, "units": self.units,
            "changes": {k: {"before": b, "after": a} for k, (b, a) in self.changes.items()},
            "errors": [e.as_dict() for e in self.errors],
        }


@dataclass
class Preview:
    encoding: str = ""
    columns: list[str] = field(default_factory=list)
    rows: list[PlannedRow] = field(default_factory=list)
    file_errors: list[RowError] = field(default_factory=list)

    @property
    def errors(self) -> list[RowError]:
        return self.file_errors + [e for row in self.rows for e in row.errors]

    @property
    def ok(self) -> bool:
        return not self.file_errors and not any(row.errors for row in self.rows)

    @property
    def counts(self) -> dict[str, int]:
        counts = {CREATE: 0, UPDATE: 0, DEACTIVATE: 0, UNCHANGED: 0, "error": 0}
        for row in self.rows:
            counts["error" if row.errors else row.action] += 1
        return counts

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "encoding": self.encoding, "columns": self.columns, "counts": self.counts,
            "file_errors": [e.as_dict() for e in self.file_errors],
            "rows": [row.as_dict() for row in self.rows],
        }


class FileRejected(Exception):
    """The file as a whole cannot be read (becomes a file error of the preview)."""

    def __init__(self, message, code: str, line: int = 0, column: str = ""):
        super().__init__(str(message))
        self.error = RowError(line, column, message, code)


# --- Decoding and parsing --------------------------------------------------------------------

def decode(data: bytes) -> tuple[str, str]:
    """The text and the encoding found: UTF-8 (with or without BOM), else Shift_JIS (cp932)."""
    if len(data) > MAX_BYTES:
        raise FileRejected(_fmt(_("The file is larger than %(mib)d MB. Split it into several files."), {"mib": MAX_BYTES // (1024 * 1024)}), "too_large")
    if not data.strip(b" \t\r\n") or data.strip(b" \t\r\n") == b"\xef\xbb\xbf":
        raise FileRejected(_("The file is empty."), "empty")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileRejected(_("The file is UTF-16 (Excel's \"Unicode text\"). Save it as \"CSV UTF-8\" "
                             "or \"CSV (comma delimited)\"."), "encoding")
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise FileRejected(_("This is a spreadsheet workbook, not a CSV file. Save it as \"CSV UTF-8\" "
                             "or \"CSV (comma delimited)\"."), "not_csv")
    if b"\x00" in data:
        raise FileRejected(_("The file contains binary data; it is not a CSV file."), "not_csv")
    try:
        text = data.decode("utf-8-sig")
        return text, "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp932")
    except UnicodeDecodeError:
        raise FileRejected(_("The file's character encoding is not UTF-8 or Shift_JIS. Save it as "
                             "\"CSV UTF-8\" or \"CSV (comma delimited)\"."), "encoding") from None
    if _NOT_SHIFT_JIS.search(text) or _looks_like_euc_jp(data, text):
        raise FileRejected(_("The file's character encoding is not UTF-8 or Shift_JIS. Save it as "
                             "\"CSV UTF-8\" or \"CSV (comma delimited)\"."), "encoding")
    return text, "cp932"


# Python's cp932 maps the undefined bytes 0x80, 0xA0 and 0xFD-0xFF to C1 controls or private use.
_NOT_SHIFT_JIS = re.compile("[\x80-\x9f\uf8f0-\uf8f3]")


def _looks_like_euc_jp(data: bytes, cp932_text: str) -> bool:
    """EUC-JP kanji read as cp932 turn into runs of half-width katakana."""
    halfwidth = sum(1 for ch in cp932_text if "\uff61" <= ch <= "\uff9f")
    if halfwidth < 4:
        return False
    try:
        euc = data.decode("euc_jp")
    except UnicodeDecodeError:
        return False
    return sum(1 for ch in euc if "\uff61" <= ch <= "\uff9f") < halfwidth // 4


def _header_key(cell: str) -> str:
    return re.sub(r"[\s_]+", "", cell.replace("\ufeff", "")).casefold()


def _is_formula(value: str) -> bool:
    return value.startswith(FORMULA_START) or value.lstrip(" ").startswith(FORMULA_START[:4])


def unescape_cell(value: str) -> str:
    """Undo the export's neutralisation: ``'=x`` → ``=x`` (one leading quote before a formula character)."""
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_START:
        return value[1:]
    return value


def _rows(text: str) -> Iterable[tuple[int, list[str]]]:
    """(first physical line, cells) of every record; csv.Error becomes a file error."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    line = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise FileRejected(_fmt(_("Line %(line)d cannot be read as CSV (%(reason)s)."), {"line": reader.line_num, "reason": str(exc)}), "csv_syntax",
                               line=reader.line_num) from None
        yield line, cells
        line = reader.line_num + 1


# --- The tenant's current state, loaded once ---------------------------------------------------

@dataclass
class _Existing:
    id: int
    email: str
    name: str
    role: str
    is_active: bool
    language: str


class Directory:
    """Users, memberships and units of the active tenant, each loaded with one query."""

    def __init__(self, *, with_users: bool = True) -> None:
        from mamori.accounts.models import User

        self.users: dict[str, _Existing] = {}
        if with_users:
            for row in User.objects.values_list("id", "email", "name", "role", "is_active", "language"):
                user = _Existing(*row)
                self.users[user.email.casefold()] = user
        self.memberships: dict[int, set[int]] = {}
        for user_id, unit_id in UnitMembership.objects.values_list("user_id", "unit_id"):
            self.memberships.setdefault(user_id, set()).add(unit_id)
        units = list(OrgUnit.objects.values_list("id", "name", "parent_id", "code"))
        by_id = {pk: (name, parent, code) for pk, name, parent, code in units}
        self.unit_label: dict[int, str] = {}
        self.unit_by_key: dict[str, int] = {}
        self.unit_path: dict[int, str] = {}
        for pk, (_name, _parent, code) in by_id.items():
            parts, seen, cursor = [], set(), pk
            while cursor is not None and cursor not in seen:
                seen.add(cursor)
                parts.append(by_id[cursor][0])
                cursor = by_id[cursor][1]
            path = PATH_SEPARATOR.join(reversed(parts))
            self.unit_path[pk] = path
            self.unit_label[pk] = code or path
            self.unit_by_key.setdefault(_unit_key(path), pk)
        for pk, (_name, _parent, code) in by_id.items():
            if code:  # codes win over paths
                self.unit_by_key[_unit_key(code)] = pk

    def find_unit(self, token: str) -> int | None:
        return self.unit_by_key.get(_unit_key(token))


def _unit_key(text: str) -> str:
    return PATH_SEPARATOR.join(part.strip() for part in text.strip().strip(PATH_SEPARATOR).split(PATH_SEPARATOR)).casefold()


def _role_map() -> dict[str, str]:
    """Role codes and their English and Japanese labels, case-insensitive."""
    mapping = {}
    for language in ("en", "ja"):
        with translation.override(language):
            for value, label in Role.choices:
                mapping[str(label).casefold()] = value
                mapping[str(label).replace(" ", "").casefold()] = value
    for value in Role.values:
        mapping[value] = value
        mapping[value.replace("_", " ")] = value
    return mapping


# --- Preview ------------------------------------------------------------------------------------

def preview(*, actor_user, data: bytes) -> Preview:
    """Check ``data`` as the acting user would apply it. Writes nothing."""
    result = Preview()
    if not can(actor_user, Perm.MANAGE_USERS):
        result.file_errors.append(RowError(0, "", _("Your role does not allow managing users."), "forbidden"))
        return result
    try:
        text, result.encoding = decode(data)
        _plan(result, text, actor_user)
    except FileRejected as exc:
        result.file_errors.append(exc.error)
        result.rows = []
    return result


def _read_header(cells: list[str], line: int) -> list[str | None]:
    if len(cells) == 1 and any(sep in cells[0] for sep in ("\t", ";")):
        raise FileRejected(_("The file is not comma-separated. Save it as \"CSV UTF-8\" or \"CSV (comma "
                             "delimited)\"."), "separator", line=line)
    columns: list[str | None] = []
    problems = []
    for cell in cells:
        key = _header_key(cell)
        if not key:
            columns.append(None)
            continue
        column = HEADER_MAP.get(key)
        if column is None:
            problems.append(_fmt(_("Unknown column \"%(name)s\". The columns are: %(columns)s."), {"name": cell.strip()[:40], "columns": ", ".join(COLUMNS)}))
        elif column in columns:
            problems.append(_fmt(_("Column \"%(name)s\" appears twice."), {"name": column}))
        columns.append(column)
    if "email" not in columns and not problems:
        problems.append(_fmt(_("The header row has no \"email\" (メールアドレス) column. The first row must name "
                          "the columns: %(columns)s."), {"columns": ", ".join(COLUMNS)}))
    if problems:
        raise FileRejected(problems[0], "columns", line=line)
    return columns


def _plan(result: Preview, text: str, actor_user) -> None:
    rows = _rows(text)
    columns: list[str | None] | None = None
    raw_rows: list[tuple[int, dict[str, str], list[RowError]]] = []
    for line, cells in rows:
        if not any(cell.strip() for cell in cells):
            continue
        if columns is None:
            columns = _read_header(cells, line)
            result.columns = [c for c in columns if c]
            continue
        if len(raw_rows) >= MAX_ROWS:
            raise FileRejected(_fmt(_("The file has more than %(max)s rows. Split it into several files."),
                                    {"max": f"{MAX_ROWS:,}"}), "too_many_rows", line=line)
        values: dict[str, str] = {}
        errors: list[RowError] = []
        for index, cell in enumerate(cells):
            column = columns[index] if index < len(columns) else None
            if column is None:
                if cell.strip():
                    errors.append(RowError(line, "", _("This row has more cells than the header."), "extra_cells"))
                continue
            if _is_formula(cell):
                errors.append(RowError(line, column, _("Cells may not start with = + - @ or a tab (spreadsheet "
                                                       "formula). Remove the character or write ' before it."),
                                       "formula"))
                continue
            cell = unescape_cell(cell.strip())
            if _CONTROL.search(cell):
                errors.append(RowError(line, column, _("The cell contains control characters."), "control"))
                continue
            values[column] = cell
        raw_rows.append((line, values, errors))
    if columns is None:
        raise FileRejected(_("The file is empty."), "empty")
    if not raw_rows:
        raise FileRejected(_("The file has a header row but no users."), "empty", line=1)
    _check_rows(result, raw_rows, actor_user)


def _check_rows(result: Preview, raw_rows, actor_user) -> None:
    directory = Directory()
    roles = _role_map()
    scope = administered_unit_ids(actor_user)  # None: every unit (tenant admin)
    may_grant_admin = can(actor_user, Perm.GRANT_ADMIN)
    seen: dict[str, int] = {}
    active_admins = {u.id for u in directory.users.values() if u.is_active and u.role == Role.TENANT_ADMIN}

    def manageable(user: _Existing) -> bool:
        if scope is None:
            return True
        if user.role in (Role.TENANT_ADMIN, Role.UNIT_ADMIN):
            return False
        return bool(directory.memberships.get(user.id, set()) & scope)

    for line, values, errors in raw_rows:
        # As given, for rows that stop at an error; replaced by the resolved values below.
        row = PlannedRow(line=line, email=values.get("email", ""), errors=errors, name=values.get("name", ""),
                         role=values.get("role", ""), language=values.get("language", ""),
                         units=[t.strip() for t in values.get("units", "").split(UNIT_SEPARATOR) if t.strip()])
        result.rows.append(row)

        def fail(column: str, message, code: str, row=row, line=line) -> None:
            row.errors.append(RowError(line, column, message, code))

        email = row.email
        if not email:
            if not any(e.column == "email" for e in errors):
                fail("email", _("The e-mail address is missing."), "required")
            continue
        try:
            if len(email) > MAX_EMAIL:
                raise ValidationError("too long")
            validate_email(email)
        except ValidationError:
            fail("email", _fmt(_("\"%(value)s\" is not a valid e-mail address."), {"value": email[:80]}), "invalid_email")
            continue
        key = email.casefold()
        if key in seen:
            fail("email", _fmt(_("This e-mail address is already on line %(line)d of the file."), {"line": seen[key]}),
                 "duplicate_in_file")
            continue
        seen[key] = line
        existing = directory.users.get(key)
        visible = existing if existing is not None and manageable(existing) else None

        # Action
        raw_action = values.get("action", "")
        if raw_action:
            action = ACTION_MAP.get(raw_action.casefold())
            if action is None:
                fail("action", _fmt(_("Unknown action \"%(value)s\". Use create, update or deactivate."), {"value": raw_action[:40]}), "unknown_action")
                continue
        else:
            action = UPDATE if existing is not None else CREATE
        if action == CREATE and existing is not None:
            fail("email", _("A user with this e-mail address already exists. Leave the action empty or "
                            "write update."), "exists")
            continue
        if action in (UPDATE, DEACTIVATE) and visible is None:
            fail("email", _("There is no user with this e-mail address that you may manage."), "unknown_user")
            continue
        if visible is not None:
            row.user_id = visible.id

        # Name
        name = values.get("name", "")
        if len(name) > MAX_NAME:
            fail("name", _fmt(_("The name is longer than %(max)d characters."), {"max": MAX_NAME}), "too_long")

        # Role
        role = ""
        if values.get("role"):
            role = roles.get(values["role"].casefold(), "")
            if not role:
                fail("role", _fmt(_("Unknown role \"%(value)s\". Use one of: %(roles)s."), {"value": values["role"][:40], "roles": ", ".join(Role.values)}), "unknown_role")
            elif scope is not None and role not in UNIT_ADMIN_GRANTABLE_ROLES:
                fail("role", _fmt(_("You may not give the role \"%(value)s\"."), {"value": values["role"][:40]}),
                     "role_not_allowed")
                role = ""
            elif role in (Role.TENANT_ADMIN, Role.UNIT_ADMIN) and not may_grant_admin:
                fail("role", _fmt(_("You may not give the role \"%(value)s\"."), {"value": values["role"][:40]}),
                     "role_not_allowed")
                role = ""

        # Language
        language = ""
        if values.get("language"):
            language = _LANGUAGE_MAP.get(values["language"].casefold(), "")
            if not language:
                fail("language", _fmt(_("Unknown language \"%(value)s\". Use ja or en."), {"value": values["language"][:20]}),
                     "unknown_language")

        # Units
        unit_ids: set[int] | None = None
        if values.get("units"):
            unit_ids = set()
            for token in values["units"].split(UNIT_SEPARATOR):
                if not token.strip():
                    continue
                unit_id = directory.find_unit(token)
                if unit_id is None:
                    fail("units", _fmt(_("Unknown organizational unit \"%(value)s\"."), {"value": token.strip()[:80]}),
                         "unknown_unit")
                elif scope is not None and unit_id not in scope:
                    fail("units", _fmt(_("The unit \"%(value)s\" is outside the units you administer."), {"value": token.strip()[:80]}), "unit_not_allowed")
                else:
                    unit_ids.add(unit_id)
            if not any(e.column == "units" for e in row.errors):
                row.units = sorted(directory.unit_label[pk] for pk in unit_ids)

        is_self = visible is not None and visible.id == actor_user.pk
        if action == DEACTIVATE:
            if is_self:
                fail("action", _("You cannot deactivate your own account."), "self")
            elif visible.id in active_admins:
                active_admins.discard(visible.id)
                if not active_admins:
                    fail("action", _("This is the last active tenant admin; it cannot be deactivated."),
                         "last_admin")
            if row.errors:
                continue
            row.name, row.role, row.language = visible.name, visible.role, visible.language
            row.units = sorted(directory.unit_label[pk] for pk in directory.memberships.get(visible.id, ()))
            row.action = DEACTIVATE if visible.is_active else UNCHANGED
            if visible.is_active:
                row.changes = {"is_active": (True, False)}
            continue

        if action == CREATE:
            if scope is not None and not unit_ids and not any(e.column == "units" for e in row.errors):
                fail("units", _("Give at least one of the units you administer."), "units_required")
            row.name, row.role, row.language = name, role or Role.VIEWER, language
            row.unit_ids = unit_ids or set()
            if not row.errors:
                row.action = CREATE
            continue

        # Update
        changes: dict[str, tuple[Any, Any]] = {}
        if "name" in values and values["name"] and name != visible.name:
            changes["name"] = (visible.name, name)
        if role and role != visible.role:
            changes["role"] = (visible.role, role)
            if visible.id in active_admins and role != Role.TENANT_ADMIN and not is_self:
                active_admins.discard(visible.id)
                if not active_admins:
                    fail("role", _("This is the last active tenant admin; the role cannot be changed."),
                         "last_admin")
        if language and language != visible.language:
            changes["language"] = (visible.language, language)
        current_units = directory.memberships.get(visible.id, set())
        if unit_ids is not None:
            # A unit admin replaces only the memberships inside their scope.
            wanted = unit_ids | (current_units - scope if scope is not None else set())
            if scope is not None and not wanted:
                fail("units", _("Give at least one of the units you administer."), "units_required")
            elif wanted != current_units:
                changes["units"] = (sorted(directory.unit_label[pk] for pk in current_units),
                                    sorted(directory.unit_label[pk] for pk in wanted))
                row.unit_ids = wanted
        row.name = name or visible.name
        row.role = role or visible.role
        row.language = language or visible.language
        if unit_ids is None:
            row.units = sorted(directory.unit_label[pk] for pk in current_units)
        row.changes = changes
        if is_self and changes:
            fail("email", _("You cannot change your own account with an import; leave your row unchanged."),
                 "self")
        if not row.errors:
            row.action = UPDATE if changes else UNCHANGED


# --- Export ---------------------------------------------------------------------------------------

def neutralise(value: str) -> str:
    """OWASP ASVS 5.0 1.2.10: a cell that a spreadsheet would run as a formula gets a leading quote."""
    if value and value.startswith(FORMULA_START):
        return "'" + value
    return value


def export_rows(users) -> Iterable[list[str]]:
    """Rows (without header) for ``users``: one query for users, one for memberships, one for units."""
    directory = Directory(with_users=False)  # the units and memberships, once
    for user in users:
        units = sorted(directory.unit_label[pk] for pk in directory.memberships.get(user.id, ()))
        yield [user.email, user.name, user.role, UNIT_SEPARATOR.join(units), user.language,
               "" if user.is_active else DEACTIVATE]


def export_users(users, *, encoding: str = "utf-8", header: str = "en") -> bytes:
    """The users as CSV bytes: UTF-8 with BOM (Excel opens it as UTF-8) or cp932.

    Raises ``UnicodeEncodeError`` for cp932 when a value has no Shift_JIS form.
    """
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([HEADER_JA[c] for c in COLUMNS] if header == "ja" else list(COLUMNS))
    for row in export_rows(users):
        writer.writerow([neutralise(cell) for cell in row])
    text = out.getvalue()
    if encoding == "cp932":
        return text.encode("cp932")
    return text.encode("utf-8-sig")


SAMPLE_ROWS = [
    ["sato@example.co.jp", "佐藤 花子", "editor", "SALES-TYO", "ja", "create"],
    ["tanaka@example.co.jp", "田中 一郎", "viewer", "営業部/大阪", "", ""],
    ["suzuki@example.co.jp", "", "reviewer", "", "", "update"],
    ["former@example.co.jp", "", "", "", "", "deactivate"],
]


def sample_csv() -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(list(COLUMNS))
    writer.writerows(SAMPLE_ROWS)
    return out.getvalue().encode("utf-8-sig")
