#!/usr/bin/env python3
"""Verify a Mamori evidence package offline.

Usage::

    python verify_evidence.py [PACKAGE] [--public-key PUBLISHED_KEY.pem]

``PACKAGE`` is the downloaded ZIP or the folder it was extracted to (default:
the folder holding this script). Needs Python 3.11+ and the ``cryptography``
package only (``pip install cryptography``); it imports nothing from Mamori.

Checks, in order:

1. ``manifest.json`` is signed by the provider's Ed25519 key (the package's
   ``public_key.pem``, or, better, the key you obtained yourself from the
   provider's console or whitepaper, given with ``--public-key``). Each
   signature names its key id; a PEM file may hold several keys (after the
   provider rotated its key, the retired keys that signed older digests), and
   a signature by a key id not among them fails as "signed by an unknown key";
2. every file's SHA-256 matches the manifest;
3. ``events.jsonl``: each event's hash is the SHA-256 of its canonical JSON, each
   links to the previous one (``prev_hash``), sequence numbers run without gaps
   from the manifest's first to last, and the count matches. A range export
   starts mid-chain: the first event's ``prev_hash`` is taken as given unless
   the range starts at sequence 1 (genesis) or right after a signed retention
   checkpoint (then it must equal the checkpoint's hash);
4. ``events.csv`` says the same as ``events.jsonl``, row by row;
5. every signed digest and checkpoint in ``digests.json`` verifies, and a digest
   inside the range names the hash the events have at that sequence number.

Exit status 0 when everything holds; 1 naming the first bad record otherwise;
2 when the package cannot be read at all.

This file deliberately copies Mamori's canonical form (``mamori.audit.canonical``)
instead of importing it, so it can be read and run on its own.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import json
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FORMAT = "mamori-evidence/1"
FILES = ("events.jsonl", "events.csv", "digests.json", "public_key.pem", "verify_evidence.py")

# --- Copied from mamori/audit/canonical.py (keep identical) ----------------------------------
GENESIS_HASH = "0" * 64
CHAIN_FIELDS = (
    "chain", "seq", "occurred_at", "action", "actor_type", "actor_id", "actor_label",
    "target_type", "target_id", "target_label", "before", "after", "ip", "user_agent",
    "request_id", "prev_hash",
)


def format_time(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def event_hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(payload)).hexdigest()
# --- End of the copy ----------------------------------------------------------------------------


# --- The CSV form (the exporter uses these same functions) ----------------------------------------
CSV_COLUMNS = (
    "seq", "occurred_at", "action", "actor_type", "actor_id", "actor_label", "target_type",
    "target_id", "target_label", "ip", "user_agent", "request_id", "before", "after",
    "prev_hash", "hash",
)
# Cells starting with these are formulas to a spreadsheet (OWASP "CSV injection"): prefix a quote.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


_FORMULA_STARTS = frozenset("".join(FORMULA_PREFIXES))


def neutralise(cell: str) -> str:
    return "'" + cell if cell and cell[0] in _FORMULA_STARTS else cell


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    else:
        text = str(value)
    return "'" + text if text and text[0] in _FORMULA_STARTS else text


def csv_row(payload: dict[str, Any], hash_: str) -> list[str]:
    get = payload.get
    return [csv_cell(hash_ if column == "hash" else get(column)) for column in CSV_COLUMNS]


def manifest_message(manifest: dict[str, Any]) -> bytes:
    return canonical_bytes(manifest)


def digest_message(digest: dict[str, Any]) -> bytes:
    return canonical_bytes({key: digest[key] for key in ("chain", "up_to_seq", "head_hash", "created_at")})


def checkpoint_message(checkpoint: dict[str, Any]) -> bytes:
    return canonical_bytes({key: checkpoint[key] for key in
                            ("chain", "purged_through_seq", "hash_at_seq", "removed_count", "created_at")})


# --- Reading the package ------------------------------------------------------------------------

class Package:
    """The files of an evidence package, from a ZIP or an extracted folder."""

    def __init__(self, location: Path):
        self.location = location
        self.zip = zipfile.ZipFile(location) if location.is_file() else None

    def exists(self, name: str) -> bool:
        if self.zip is not None:
            return name in self.zip.namelist()
        return (self.location / name).is_file()

    def open(self, name: str):
        if self.zip is not None:
            return self.zip.open(name)
        return open(self.location / name, "rb")  # noqa: SIM115 — closed by the caller

    def read(self, name: str) -> bytes:
        with self.open(name) as handle:
            return handle.read()

    def sha256(self, name: str) -> str:
        digest = hashlib.sha256()
        with self.open(name) as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()


def _b64(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


_PEM_BEGIN = b"-----BEGIN PUBLIC KEY-----"
_PEM_END = b"-----END PUBLIC KEY-----"


class Signatures:
    """The trusted Ed25519 public keys (one or more PEM blocks), picked by Mamori's key id: the first
    16 hex digits of SHA-256 over the raw 32-byte key. After a key rotation a package holds the
    current key and the retired keys that signed its older digests."""

    def __init__(self, pem: bytes):
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        from cryptography.hazmat.primitives.serialization import (
            Encoding,
            PublicFormat,
            load_pem_public_key,
        )

        self.keys: dict[str, Any] = {}
        self.fingerprints: dict[str, str] = {}
        rest = pem
        while _PEM_BEGIN in rest:
            start = rest.index(_PEM_BEGIN)
            end = rest.find(_PEM_END, start)
            if end < 0:
                raise ValueError("a public key PEM block is not terminated")
            key = load_pem_public_key(rest[start:end + len(_PEM_END)] + b"\n")
            rest = rest[end + len(_PEM_END):]
            if not isinstance(key, Ed25519PublicKey):
                raise ValueError("the public key is not an Ed25519 key")
            fingerprint = hashlib.sha256(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).hexdigest()
            self.keys[fingerprint[:16]] = key
            self.fingerprints[fingerprint[:16]] = fingerprint
        if not self.keys:
            raise ValueError("no public key (PEM block) found")
        self.key_id = next(iter(self.keys))  # the first key: the provider's current key
        self.fingerprint = self.fingerprints[self.key_id]

    def problem(self, message: bytes, signature: str, key_id: str | None) -> str | None:
        """None when ``signature`` verifies with the key ``key_id``; otherwise the reason."""
        from cryptography.exceptions import InvalidSignature

        key = self.keys.get(key_id) if isinstance(key_id, str) else None
        if key is None:
            return f"signed by an unknown key {key_id} (not among the trusted public keys)"
        try:
            key.verify(_b64(signature), message)
        except (InvalidSignature, ValueError, TypeError):
            return f"signature does not verify (key {key_id})"
        return None

    def valid(self, message: bytes, signature: str, key_id: str | None = None) -> bool:
        if key_id is None:
            key_id = self.key_id
        return self.problem(message, signature, key_id) is None


class Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, message: str) -> None:
        self.items.append(message)

    def __bool__(self) -> bool:
        return bool(self.items)


def _check_events(package: Package, manifest: dict[str, Any], anchors: dict[int, str],
                  wanted: dict[int, str], problems: Problems) -> int:
    """Chain and CSV, in one streaming pass. Returns the number of good events."""
    chain = manifest["chain"]
    expected = manifest["first_seq"]
    prev_hash: str | None = None
    seen = 0
    jsonl = io.TextIOWrapper(package.open("events.jsonl"), encoding="utf-8", newline="\n")
    raw_csv = io.TextIOWrapper(package.open("events.csv"), encoding="utf-8-sig", newline="")
    rows = csv.reader(raw_csv)
    csv_bad: str | None = None
    header = next(rows, None)
    if header != list(CSV_COLUMNS):
        csv_bad = "events.csv: the header row is not the expected one"
    for line_no, line in enumerate(jsonl, start=1):
        where = f"events.jsonl line {line_no}"
        try:
            record = json.loads(line)
            payload = {name: record["payload"][name] for name in CHAIN_FIELDS}
            stored = record["hash"]
            seq = payload["seq"]
        except (ValueError, KeyError, TypeError):
            problems.add(f"{where}: not a valid event record")
            return seen
        where = f"{where} (seq {seq})"
        if payload["chain"] != chain:
            problems.add(f"{where}: belongs to chain {payload['chain']}, not {chain}")
            return seen
        if seq != expected:
            problems.add(f"{where}: expected seq {expected} (event missing, inserted or reordered)")
            return seen
        if prev_hash is None:
            anchor = anchors.get(seq)
            if anchor is not None and payload["prev_hash"] != anchor:
                problems.add(f"{where}: prev_hash does not match the signed start of the chain")
                return seen
        elif payload["prev_hash"] != prev_hash:
            problems.add(f"{where}: prev_hash does not match the previous event's hash")
            return seen
        if event_hash(payload) != stored:
            problems.add(f"{where}: hash mismatch (event content changed)")
            return seen
        if seq in wanted and wanted[seq] != stored:
            problems.add(f"{where}: differs from the signed digest at this sequence number")
            return seen
        if csv_bad is None:
            row = next(rows, None)
            if row is None:
                csv_bad = f"events.csv: row for seq {seq} missing"
            elif row != csv_row(payload, stored):
                column = next((CSV_COLUMNS[i] for i, (a, b) in enumerate(zip(row, csv_row(payload, stored),
                               strict=False)) if a != b), "number of columns")
                csv_bad = f"events.csv row {line_no + 1} (seq {seq}): column {column} differs from events.jsonl"
        prev_hash = stored
        expected += 1
        seen += 1
    if csv_bad is None and next(rows, None) is not None:
        csv_bad = "events.csv: more rows than events"
    if csv_bad:
        problems.add(csv_bad)
    if seen != manifest["event_count"] or (seen and expected - 1 != manifest["last_seq"]):
        problems.add(f"events.jsonl: {seen} events up to seq {expected - 1}; the manifest says "
                     f"{manifest['event_count']} up to seq {manifest['last_seq']} (truncated or extended)")
    return seen


def verify(location: Path, public_key: Path | None = None) -> tuple[bool, list[str], str]:
    if not location.exists():
        raise OSError(f"{location} does not exist")
    package = Package(location)
    problems = Problems()
    for name in ("manifest.json", "public_key.pem"):
        if not package.exists(name):
            return False, [f"{name}: missing from the package"], ""
    signed = json.loads(package.read("manifest.json"))
    manifest = signed.get("manifest") or {}
    pem = public_key.read_bytes() if public_key else package.read("public_key.pem")
    keys = Signatures(pem)
    if manifest.get("format") != FORMAT:
        problems.add(f"manifest.json: unknown format {manifest.get('format')!r}")
        return False, problems.items, keys.fingerprint
    problem = keys.problem(manifest_message(manifest), signed.get("signature", ""), signed.get("key_id"))
    if problem:
        problems.add(f"manifest.json: the provider's signature does not verify: {problem} "
                     "(manifest changed or wrong key)")
        return False, problems.items, keys.fingerprint
    keys.key_id = signed.get("key_id")  # the key that signed the package: the one to compare
    keys.fingerprint = keys.fingerprints[keys.key_id]
    if public_key:
        extra = sorted(set(Signatures(package.read("public_key.pem")).keys) - set(keys.keys))
        if extra:
            problems.add(f"public_key.pem: key {', '.join(extra)} is not among the keys given with --public-key")
    bad_files = []
    for name, expected in sorted(manifest["files"].items()):
        if not package.exists(name):
            problems.add(f"{name}: missing from the package")
            return False, problems.items, keys.fingerprint
        if package.sha256(name) != expected["sha256"]:
            bad_files.append(name)

    evidence = json.loads(package.read("digests.json"))
    anchors: dict[int, str] = {}
    if manifest["first_seq"] == 1:
        anchors[1] = GENESIS_HASH
    for checkpoint in evidence.get("checkpoints", []):
        where = f"digests.json checkpoint through seq {checkpoint.get('purged_through_seq')}"
        if checkpoint.get("chain") != manifest["chain"]:
            problems.add(f"{where}: belongs to chain {checkpoint.get('chain')}, not {manifest['chain']}")
            continue
        problem = keys.problem(checkpoint_message(checkpoint), checkpoint.get("signature", ""),
                               checkpoint.get("key_id"))
        if problem:
            problems.add(f"{where}: {problem}")
            continue
        anchors[checkpoint["purged_through_seq"] + 1] = checkpoint["hash_at_seq"]
    wanted: dict[int, str] = {}
    for digest in evidence.get("digests", []):
        where = f"digests.json digest up to seq {digest.get('up_to_seq')}"
        if digest.get("chain") != manifest["chain"]:
            problems.add(f"{where}: belongs to chain {digest.get('chain')}, not {manifest['chain']}")
            continue
        problem = keys.problem(digest_message(digest), digest.get("signature", ""), digest.get("key_id"))
        if problem:
            problems.add(f"{where}: {problem}")
            continue
        if manifest["first_seq"] <= digest["up_to_seq"] <= manifest["last_seq"]:
            wanted[digest["up_to_seq"]] = digest["head_hash"]

    if manifest["event_count"]:
        _check_events(package, manifest, anchors, wanted, problems)
    for name in bad_files:
        problems.add(f"{name}: SHA-256 differs from the manifest")
    return not problems, problems.items, keys.fingerprint


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify a Mamori evidence package offline.")
    parser.add_argument("package", nargs="?", default=str(Path(__file__).resolve().parent),
                        help="The ZIP or the folder it was extracted to (default: this script's folder).")
    parser.add_argument("--public-key", type=Path, default=None,
                        help="The provider's published public key (PEM); default: the package's copy.")
    args = parser.parse_args(argv)
    try:
        ok, problems, fingerprint = verify(Path(args.package), args.public_key)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        print(f"ERROR: cannot read the package: {exc}", file=sys.stderr)
        return 2
    print(f"Provider key id {fingerprint[:16]} (SHA-256 of the raw Ed25519 key: {fingerprint}); "
          "compare it with the key the provider publishes (retired keys included).")
    if ok:
        manifest = json.loads(Package(Path(args.package)).read("manifest.json"))["manifest"]
        print(f"OK: {manifest['event_count']} events of {manifest['chain']}, seq {manifest['first_seq']}–"
              f"{manifest['last_seq']}, {manifest['since']} to {manifest['until']}; signatures, hashes and chain verified.")
        return 0
    print(f"FAIL: {problems[0]}")
    for problem in problems[1:]:
        print(f"  also: {problem}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
