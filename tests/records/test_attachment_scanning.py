"""Malware scan of uploads through clamd's INSTREAM protocol (mamori.records.scanning, ASVS V5.4.3).

ClamAV's daemon cannot run here (its signatures come from the internet), so ``FakeClamd`` is a
loopback server speaking the documented protocol: ``zINSTREAM\\0``, chunks prefixed with their
4-byte big-endian length, a zero length to finish, then ``stream: OK\\0`` or
``stream: <signature> FOUND\\0``. It "detects" the EICAR test string, as clamd does.
"""

from __future__ import annotations

import io
import os
import socket
import struct
import threading

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from mamori.audit.events import Actor
from mamori.audit.models import AuditEvent
from mamori.records import actions
from mamori.records.actions_attachments import upload_attachment
from mamori.records.checks import check_attachment_scanner
from mamori.records.models import Attachment
from tests.records.conftest import PDF, stored_files

pytestmark = pytest.mark.usefixtures("storage", "english")

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


class FakeClamd:
    def __init__(self, family=socket.AF_INET, path: str | None = None, answer: bytes | None = None):
        self.received: list[bytes] = []
        self.answer = answer
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind(path if family == socket.AF_UNIX else ("127.0.0.1", 0))
        self.sock.listen(4)
        self.address = path if family == socket.AF_UNIX else f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _read(self, conn, n: int) -> bytes:
        data = b""
        while len(data) < n:
            part = conn.recv(n - len(data))
            if not part:
                raise ConnectionError
            data += part
        return data

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                try:
                    assert self._read(conn, len(b"zINSTREAM\0")) == b"zINSTREAM\0"
                    body = b""
                    while True:
                        (size,) = struct.unpack(">I", self._read(conn, 4))
                        if size == 0:
                            break
                        body += self._read(conn, size)
                except (ConnectionError, AssertionError):
                    continue
                self.received.append(body)
                if self.answer is not None:
                    conn.sendall(self.answer)
                elif EICAR in body:
                    conn.sendall(b"stream: Eicar-Test-Signature FOUND\0")
                else:
                    conn.sendall(b"stream: OK\0")

    def close(self):
        self.sock.close()


@pytest.fixture
def clamd(settings):
    server = FakeClamd()
    settings.MAMORI_ATTACHMENT_SCANNER = f"clamd://{server.address}"
    yield server
    server.close()


@pytest.fixture
def record(att_workspace, editor):
    return actions.create_record(actor=Actor.for_user(editor), workspace_id=att_workspace.pk, title="Scan me")


def upload(user, record, data: bytes, name: str):
    return upload_attachment(actor=Actor.for_user(user), record_id=record.pk, file=io.BytesIO(data),
                             filename=name, size=len(data))


def test_a_clean_file_is_scanned_once_and_stored(clamd, editor, record, storage):
    attachment = upload(editor, record, PDF, "report.pdf")
    assert clamd.received == [PDF]  # every byte, exactly once, while it was stored
    assert Attachment.objects.get().pk == attachment.pk and len(stored_files(storage)) == 1


def test_malware_is_refused_nothing_is_kept_and_the_refusal_is_audited(clamd, editor, record, storage):
    with pytest.raises(ValidationError) as info:
        upload(editor, record, b"notes\n" + EICAR + b"\n", "notes.txt")
    assert "Eicar-Test-Signature" in info.value.message_dict["file"][0]
    assert not Attachment.objects.exists() and stored_files(storage) == []
    event = AuditEvent.objects.get(action="attachment.malware_refused")
    assert event.after["malware"] == "Eicar-Test-Signature" and event.after["filename"] == "notes.txt"
    assert event.target_id == str(record.pk)
    assert not AuditEvent.objects.filter(action="attachment.uploaded").exists()


def test_an_unreachable_scanner_refuses_the_upload(settings, editor, record, storage):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there any more
    settings.MAMORI_ATTACHMENT_SCANNER = f"clamd://127.0.0.1:{port}"
    settings.MAMORI_ATTACHMENT_SCAN_TIMEOUT = 2
    with pytest.raises(ValidationError) as info:
        upload(editor, record, PDF, "report.pdf")
    assert "could not be checked" in info.value.message_dict["file"][0]
    assert not Attachment.objects.exists() and stored_files(storage) == []


@pytest.mark.parametrize("answer", [b"stream: INSTREAM size limit exceeded. ERROR\0", b"", b"garbage\0"])
def test_a_scanner_without_a_verdict_refuses_the_upload(settings, editor, record, storage, answer):
    server = FakeClamd(answer=answer)
    settings.MAMORI_ATTACHMENT_SCANNER = f"clamd://{server.address}"
    try:
        with pytest.raises(ValidationError) as info:
            upload(editor, record, PDF, "report.pdf")
    finally:
        server.close()
    assert "could not be checked" in info.value.message_dict["file"][0]
    assert not Attachment.objects.exists() and stored_files(storage) == []


def test_unix_socket_address(settings, editor, record, tmp_path):
    path = str(tmp_path / "clamd.sock")
    server = FakeClamd(socket.AF_UNIX, path)
    settings.MAMORI_ATTACHMENT_SCANNER = f"clamd://{path}"
    try:
        upload(editor, record, PDF, "report.pdf")
    finally:
        server.close()
        os.unlink(path)
    assert server.received == [PDF]


def test_the_api_answers_422_with_the_reason(clamd, editor, record, api_token, api_client):
    api = api_client(api_token(editor))
    response = api.post(f"/api/v1/records/{record.pk}/attachments",
                        {"file": SimpleUploadedFile("eicar.txt", EICAR)})
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["field"] == "file" and "Eicar-Test-Signature" in error["message"]
    assert AuditEvent.objects.filter(action="attachment.malware_refused").count() == 1


@pytest.mark.parametrize("value, ok", [
    ("", True), ("clamd://127.0.0.1:3310", True), ("clamd:///run/clamav/clamd.ctl", True),
    ("http://scanner", False), ("clamd://", False),
])
def test_the_setting_is_checked_at_start_up(settings, value, ok):
    settings.MAMORI_ATTACHMENT_SCANNER = value
    assert (check_attachment_scanner() == []) is ok
