"""Shared pieces of the full tenant export tests: data with awkward values, reading a ZIP back."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal

from django.core.files.storage import default_storage
from django.db import transaction

from mamori.audit.events import Actor
from mamori.lifecycle import export as ex
from mamori.lifecycle.actions_export import request_tenant_export
from mamori.lifecycle.models import TenantExport

NASTY = ["=HYPERLINK(\"http://evil\")", "+1+2", "-3", "@SUM(A1)", "\tTab", "\rCR", "'quoted", "'=x",
         "日本語 テスト", "line\nbreak", "comma, \"quote\"", "plain"]


def make_data(admin) -> list:
    """A workspace, labels and one record per nasty text (title and body), with JSON properties."""
    from mamori.records.actions import create_label, create_record, create_workspace

    actor = Actor.for_user(admin)
    with transaction.atomic():
        workspace = create_workspace(actor=actor, name="=cmd|' /C calc'!A0", description="-desc")
        label = create_label(actor=actor, name="@label")
        return [create_record(actor=actor, workspace_id=workspace.pk, title=text[:200], body=text,
                              properties={"text": text, "n": i},
                              label_ids=[label.pk])
                for i, text in enumerate(NASTY)]


def run_export(admin, **kwargs) -> TenantExport:
    export = request_tenant_export(actor=Actor.for_user(admin), enqueue=False)
    ex.build_export(export.pk, admin.tenant, **kwargs)
    export.refresh_from_db()
    return export


def read_zip(export: TenantExport) -> zipfile.ZipFile:
    with default_storage.open(export.file_path, "rb") as handle:
        return zipfile.ZipFile(io.BytesIO(handle.read()))


def parse_csv(raw: bytes) -> list[list[str]]:
    assert raw.startswith(b"\xef\xbb\xbf"), "CSV must start with a UTF-8 BOM"
    text = raw[3:].decode("utf-8")
    return list(csv.reader(io.StringIO(text, newline=""), lineterminator="\r\n"))


def parse_jsonl(raw: bytes) -> list[dict]:
    text = raw.decode("utf-8")
    assert text == "" or text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


# Independent of mamori.lifecycle.export: how a database value must look in the files.

def expected_json(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if value is not None and not isinstance(value, bool | int | float | str | dict | list):
        return str(value)
    return value


def expected_csv(value) -> str:
    """The cell text after the leading ``'`` escape is removed."""
    value = expected_json(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return str(value)
