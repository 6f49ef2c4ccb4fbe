"""The Japanese catalogs are complete, compiled, and cover every string in the code."""

from __future__ import annotations

import contextlib
import gettext
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.core.management import call_command

import mamori

PACKAGE = Path(mamori.__file__).resolve().parent
CATALOGS = sorted(PACKAGE.glob("**/locale/ja/LC_MESSAGES/django.po"))
MAIN_CATALOG = PACKAGE / "locale" / "ja" / "LC_MESSAGES" / "django.po"


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int | None, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False

    @property
    def translated(self) -> bool:
        return bool(self.msgstr) and all(self.msgstr.values())


_KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")$')


def parse_po(path: Path) -> list[Entry]:
    """A small .po reader: enough for catalogs written by makemessages."""
    entries: list[Entry] = []
    current: Entry | None = None
    target: tuple = ()
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if not line.strip():
            if current is not None:
                entries.append(current)
            current = None
            continue
        starts_entry = line.startswith("#") or line.startswith(("msgctxt ", "msgid "))
        if current is not None and current.msgstr and starts_entry and not line.startswith("#~"):
            entries.append(current)  # tolerate a missing blank line between entries
            current = None
        if current is None:
            current = Entry()
        if line.startswith("#~"):
            current.obsolete = True
        elif line.startswith("#,"):
            current.flags |= {flag.strip() for flag in line[2:].split(",")}
        elif line.startswith("#"):
            continue
        elif match := _KEYWORD.match(line):
            keyword, index, value = match.group(1), match.group(2), json.loads(match.group(3))
            if keyword.startswith("msgstr"):
                target = ("msgstr", int(index) if index is not None else None)
                current.msgstr[target[1]] = value
            else:
                target = (keyword,)
                setattr(current, keyword, value)
        elif line.startswith('"'):
            value = json.loads(line)
            if target[0] == "msgstr":
                current.msgstr[target[1]] += value
            else:
                setattr(current, target[0], getattr(current, target[0]) + value)
    return entries


def test_the_main_catalog_exists():
    assert MAIN_CATALOG in CATALOGS


@pytest.mark.parametrize("path", CATALOGS, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_catalog_has_no_untranslated_fuzzy_or_obsolete_entries(path):
    entries = parse_po(path)
    header, messages = entries[0], entries[1:]
    assert header.msgid == "" and "fuzzy" not in header.flags, "the header must not be fuzzy"
    assert "Language: ja" in header.msgstr[None]
    assert messages
    problems = [e.msgid for e in messages if "fuzzy" in e.flags or not e.translated or e.obsolete]
    assert not problems, f"translate these in {path.name}: {problems}"


@pytest.mark.parametrize("path", CATALOGS, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_placeholders_survive_translation(path):
    def placeholders(text: str) -> list[str]:
        return sorted(re.findall(r"%\(\w+\)[sd]|%[sd]", text))

    for entry in parse_po(path)[1:]:
        if "python-format" not in entry.flags:
            continue
        for text in entry.msgstr.values():
            wanted = placeholders(entry.msgid)
            if entry.msgid_plural is not None:  # Japanese has one form; it may drop the count
                assert set(placeholders(text)) <= set(wanted) | set(placeholders(entry.msgid_plural))
            else:
                assert placeholders(text) == wanted, entry.msgid


@pytest.mark.parametrize("path", CATALOGS, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_compiled_catalog_matches_the_po_file(path):
    mo = path.with_suffix(".mo")
    assert mo.exists(), f"run: cd mamori && ../.venv/bin/mamori compilemessages ({mo} missing)"
    with mo.open("rb") as handle:
        catalog = gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
    for entry in parse_po(path)[1:]:
        key = entry.msgid if entry.msgctxt is None else f"{entry.msgctxt}\x04{entry.msgid}"
        if entry.msgid_plural is None:
            assert catalog.get(key) == entry.msgstr[None], f"stale .mo for {entry.msgid!r}: run compilemessages"
        else:
            assert catalog.get((key, 0)) == entry.msgstr[0], f"stale .mo for {entry.msgid!r}: run compilemessages"


@pytest.mark.skipif(not shutil.which("xgettext"), reason="needs gettext (apt-get install gettext)")
def test_every_string_in_the_code_has_a_japanese_translation(tmp_path, settings):
    """Extract the strings afresh from a copy of the package and look each up in the catalogs."""
    copy = tmp_path / "mamori"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("locale", "__pycache__", "static", "*.pyc"))
    (copy / "locale").mkdir()
    settings.LOCALE_PATHS = [copy / "locale"]
    with contextlib.chdir(copy):
        call_command("makemessages", locale=["ja"], verbosity=0, no_obsolete=True)
    known = {}
    for path in CATALOGS:
        for entry in parse_po(path)[1:]:
            known[(entry.msgctxt, entry.msgid)] = entry.translated
    extracted = [e for path in copy.glob("**/locale/ja/LC_MESSAGES/django.po") for e in parse_po(path)[1:]]
    assert extracted
    missing = sorted(e.msgid for e in extracted if not known.get((e.msgctxt, e.msgid)))
    assert not missing, (
        "strings without a Japanese translation; run "
        "`cd mamori && ../.venv/bin/mamori makemessages -l ja --no-obsolete`, translate, then compilemessages: "
        f"{missing}"
    )
