"""The streamed backup encryption: round trips, and every kind of damage is detected."""

from __future__ import annotations

import io
import os
import stat
import struct

import pytest

from mamori.lifecycle import backup_crypto as bc


def _key() -> bc.BackupKey:
    return bc.parse_backup_key(bc.generate_backup_key(), "test")


def _encrypt(data: bytes, key: bc.BackupKey, chunk_size: int = 64) -> bytes:
    out = io.BytesIO()
    result = bc.encrypt_stream(io.BytesIO(data).read, out.write, key, chunk_size=chunk_size)
    assert result.size == len(data)
    return out.getvalue()


def _decrypt(blob: bytes, key: bc.BackupKey) -> bytes:
    out = io.BytesIO()
    bc.decrypt_stream(io.BytesIO(blob), key, out.write)
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, 63, 64, 65, 128, 1000])
def test_round_trip_at_chunk_boundaries(size):
    key = _key()
    data = os.urandom(size)
    blob = _encrypt(data, key)
    assert size < 16 or data not in blob
    assert _decrypt(blob, key) == data


def test_round_trip_reads_from_a_stream_that_returns_short_reads():
    key = _key()
    data = os.urandom(5000)
    source = io.BytesIO(data)
    out = io.BytesIO()
    bc.encrypt_stream(lambda n: source.read(min(n, 7)), out.write, key, chunk_size=100)
    assert _decrypt(out.getvalue(), key) == data


def test_every_truncation_is_detected():
    key = _key()
    blob = _encrypt(os.urandom(300), key)
    for cut in range(len(blob)):
        with pytest.raises(bc.BackupCorrupt, match="truncated|shorter"):
            bc.decrypt_stream(io.BytesIO(blob[:cut]), key)


def test_truncation_at_a_chunk_boundary_is_detected():
    """Cutting exactly after a complete non-final chunk still fails: the final flag is authenticated."""
    key = _key()
    blob = _encrypt(os.urandom(200), key, chunk_size=64)
    first_len = struct.unpack(">I", blob[bc.HEADER_SIZE:bc.HEADER_SIZE + 4])[0] & 0x7FFFFFFF
    cut = bc.HEADER_SIZE + 4 + first_len
    with pytest.raises(bc.BackupCorrupt, match="without its final chunk"):
        bc.decrypt_stream(io.BytesIO(blob[:cut]), key)
    # Marking that chunk final by flipping the flag fails authentication.
    forged = bytearray(blob[:cut])
    forged[bc.HEADER_SIZE] |= 0x80
    with pytest.raises(bc.BackupCorrupt, match="fails authentication"):
        bc.decrypt_stream(io.BytesIO(bytes(forged)), key)


@pytest.mark.parametrize("position", [8 + 16 + 5, bc.HEADER_SIZE + 10, -1, -20])
def test_a_flipped_bit_is_detected(position):
    key = _key()
    blob = bytearray(_encrypt(os.urandom(300), key))
    blob[position] ^= 0x01
    with pytest.raises(bc.BackupCorrupt):
        bc.decrypt_stream(io.BytesIO(bytes(blob)), key)


def test_appended_data_and_swapped_chunks_are_detected():
    key = _key()
    blob = _encrypt(os.urandom(128), key, chunk_size=32)
    with pytest.raises(bc.BackupCorrupt, match="follows the final chunk"):
        bc.decrypt_stream(io.BytesIO(blob + b"x"), key)
    size = 4 + 32 + 16
    start = bc.HEADER_SIZE
    swapped = blob[:start] + blob[start + size:start + 2 * size] + blob[start:start + size] + blob[start + 2 * size:]
    with pytest.raises(bc.BackupCorrupt, match="chunk 0 fails authentication"):
        bc.decrypt_stream(io.BytesIO(swapped), key)


def test_wrong_key_is_named_before_any_plaintext():
    blob = _encrypt(b"secret customer data", _key())
    other = _key()
    written = []
    with pytest.raises(bc.BackupKeyError, match="wrong backup key"):
        bc.decrypt_stream(io.BytesIO(blob), other, written.append)
    assert written == []


def test_not_a_backup():
    with pytest.raises(bc.BackupCorrupt, match="not a Mamori system backup"):
        bc.decrypt_stream(io.BytesIO(b"SQLite format 3\x00" + b"\x00" * 100), _key())


@pytest.mark.parametrize("text", ["", "not base64 !!", "c2hvcnQ="])
def test_malformed_keys_are_refused_with_the_variable_name(text):
    with pytest.raises(bc.BackupKeyError, match="MAMORI_BACKUP_KEY"):
        bc.parse_backup_key(text, "MAMORI_BACKUP_KEY")


def test_key_from_file_and_development_key(monkeypatch, settings, tmp_path):
    monkeypatch.delenv("MAMORI_BACKUP_KEY", raising=False)
    path = tmp_path / "backup.key"
    path.write_text(bc.generate_backup_key())
    monkeypatch.setenv("MAMORI_BACKUP_KEY_FILE", str(path))
    loaded = bc.load_backup_key()
    assert loaded.source == "MAMORI_BACKUP_KEY_FILE"
    assert path.read_text().strip() not in repr(loaded) and str(loaded.key) not in repr(loaded)
    monkeypatch.delenv("MAMORI_BACKUP_KEY_FILE")
    settings.DATA_DIR = tmp_path / "data"
    first = bc.load_backup_key()
    dev = tmp_path / "data" / "keys" / "backup.key"
    assert stat.S_IMODE(dev.stat().st_mode) == 0o600
    assert bc.load_backup_key().key == first.key  # generated once
    settings.PRODUCTION = True
    with pytest.raises(bc.BackupKeyError, match="No backup key"):
        bc.load_backup_key()
