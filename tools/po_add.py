#!/usr/bin/env python3
"""Append Japanese translations to a catalogue and compile it (a developer tool).

Usage: tools/po_add.py [--po PATH] FILE.tsv   (or '-' for stdin)

Each input line is ``msgid<TAB>msgstr`` (use \\n for newlines). Entries already in the
catalogue are skipped, so helpers working in parallel can run it safely one after the
other. After appending, the catalogue is compiled with ``msgfmt`` (from gettext).
"""

from __future__ import annotations

import argparse
import fcntl
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PO = ROOT / "mamori/locale/ja/LC_MESSAGES/django.po"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def _known_msgids(po_text: str) -> set[str]:
    known = set()
    for match in re.finditer(r'^msgid ((?:".*"\n?)+)', po_text, flags=re.M):
        parts = re.findall(r'"((?:[^"\\]|\\.)*)"', match.group(1))
        known.add("".join(parts).encode().decode("unicode_escape").encode("latin-1").decode("utf-8"))
    return known


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--po", type=Path, default=DEFAULT_PO)
    parser.add_argument("file")
    args = parser.parse_args()
    source = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8")
    pairs = []
    for line in source:
        line = line.rstrip("\n")
        if not line.strip() or line.startswith("#"):
            continue
        msgid, _, msgstr = line.partition("\t")
        pairs.append((msgid.replace("\\n", "\n"), msgstr.replace("\\n", "\n")))
    with open(args.po, "r+", encoding="utf-8") as po:
        fcntl.flock(po, fcntl.LOCK_EX)
        text = po.read()
        known = _known_msgids(text)
        added = [(i, s) for i, s in pairs if i not in known and s]
        if added:
            po.seek(0, 2)
            po.write("".join(f"\nmsgid {_quote(i)}\nmsgstr {_quote(s)}\n" for i, s in added))
        fcntl.flock(po, fcntl.LOCK_UN)
    # A fixed developer command (gettext's msgfmt) on our own catalogue.
    subprocess.run(["msgfmt", "--check-format", "-o", str(args.po.with_suffix(".mo")), str(args.po)],  # noqa: S603, S607
                   check=True)
    print(f"added {len(added)} of {len(pairs)} entries to {args.po}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
