"""Fixtures for record attachments: a private storage directory and a record to attach to."""

from __future__ import annotations

import errno
import io
import os

import pytest
from django.core.files.storage import FileSystemStorage

from mamori.audit.events import Actor
from mamori.records import actions

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4"
       b"\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def att_workspace(tenant, admin, editor, viewer):
    ws = actions.create_workspace(actor=Actor.for_user(admin), name="Plant 1")
    for user in (editor, viewer):
        actions.add_workspace_member(actor=Actor.for_user(admin), workspace_id=ws.pk, user_id=user.pk)
    return ws


@pytest.fixture
def att_record(att_workspace, editor):
    return actions.create_record(actor=Actor.for_user(editor), workspace_id=att_workspace.pk, title="Report")


def stored_files(root) -> list:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def big_bytes(size: int) -> bytes:
    """Deterministic, incompressible-looking bytes starting with a PDF signature."""
    import hashlib

    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    counter = 0
    while out.tell() < size:
        out.write(hashlib.sha256(counter.to_bytes(8, "big")).digest())
        counter += 1
    return out.getvalue()[:size]


class SmallDiskStorage(FileSystemStorage):
    """A real file system storage that fails like a full disk once a file passes ``quota`` bytes
    (it has written the partial file by then, as a real full disk leaves it)."""

    def __init__(self, *args, quota: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.quota = quota

    def _save(self, name, content):
        path = self.path(name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        written = 0
        with open(path, "wb") as handle:
            for chunk in content.chunks():
                if written + len(chunk) > self.quota:
                    raise OSError(errno.ENOSPC, "No space left on device")
                handle.write(chunk)
                written += len(chunk)
        return name


@pytest.fixture
def english():
    """Messages in English for the assertions (the default language is Japanese)."""
    from django.utils import translation

    with translation.override("en"):
        yield
