"""The OWASP ASVS 5.0 mapping (docs/security/asvs.md) stays complete and truthful.

Fails when a test reference does not name an existing test function, a status is not one of
the allowed values, a "met" row names neither a place nor a test, a requirement ID is duplicated,
missing or unexpected, or the summary table disagrees with the rows.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "security" / "asvs.md"

STATUSES = ("met", "partly", "not yet", "in progress", "n.a.")
EMPTY = {"", "—", "-"}
MAX_PARAPHRASE_WORDS = 15

# Every Level 1 and Level 2 requirement of the chapters in scope, ASVS 5.0.0: "ID:level".
EXPECTED = {
    "V1": "1.1.1:2 1.1.2:2 1.2.1:1 1.2.2:1 1.2.3:1 1.2.4:1 1.2.5:1 1.2.6:2 1.2.7:2 1.2.8:2 1.2.9:2 "
          "1.3.1:1 1.3.2:1 1.3.3:2 1.3.4:2 1.3.5:2 1.3.6:2 1.3.7:2 1.3.8:2 1.3.9:2 1.3.10:2 1.3.11:2 "
          "1.4.1:2 1.4.2:2 1.4.3:2 1.5.1:1 1.5.2:2",
    "V2": "2.1.1:1 2.1.2:2 2.1.3:2 2.2.1:1 2.2.2:1 2.2.3:2 2.3.1:1 2.3.2:2 2.3.3:2 2.3.4:2 2.4.1:2",
    "V3": "3.2.1:1 3.2.2:1 3.3.1:1 3.3.2:2 3.3.3:2 3.3.4:2 3.4.1:1 3.4.2:1 3.4.3:2 3.4.4:2 3.4.5:2 "
          "3.4.6:2 3.5.1:1 3.5.2:1 3.5.3:1 3.5.4:2 3.5.5:2 3.7.1:2 3.7.2:2",
    "V4": "4.1.1:1 4.1.2:2 4.1.3:2 4.2.1:2 4.3.1:2 4.3.2:2 4.4.1:1 4.4.2:2 4.4.3:2 4.4.4:2",
    "V5": "5.1.1:2 5.2.1:1 5.2.2:1 5.2.3:2 5.3.1:1 5.3.2:1 5.4.1:2 5.4.2:2 5.4.3:2",
    "V6": "6.1.1:1 6.1.2:2 6.1.3:2 6.2.1:1 6.2.2:1 6.2.3:1 6.2.4:1 6.2.5:1 6.2.6:1 6.2.7:1 6.2.8:1 "
          "6.2.9:2 6.2.10:2 6.2.11:2 6.2.12:2 6.3.1:1 6.3.2:1 6.3.3:2 6.3.4:2 6.4.1:1 6.4.2:1 6.4.3:2 "
          "6.4.4:2 6.5.1:2 6.5.2:2 6.5.3:2 6.5.4:2 6.5.5:2 6.6.1:2 6.6.2:2 6.6.3:2 6.8.1:2 6.8.2:2 "
          "6.8.3:2 6.8.4:2",
    "V7": "7.1.1:2 7.1.2:2 7.1.3:2 7.2.1:1 7.2.2:1 7.2.3:1 7.2.4:1 7.3.1:2 7.3.2:2 7.4.1:1 7.4.2:1 "
          "7.4.3:2 7.4.4:2 7.4.5:2 7.5.1:2 7.5.2:2 7.6.1:2 7.6.2:2",
    "V8": "8.1.1:1 8.1.2:2 8.2.1:1 8.2.2:1 8.2.3:2 8.3.1:1 8.4.1:2",
    "V11": "11.1.1:2 11.1.2:2 11.2.1:2 11.2.2:2 11.2.3:2 11.3.1:1 11.3.2:1 11.3.3:2 11.4.1:1 11.4.2:2 "
           "11.4.3:2 11.4.4:2 11.5.1:2 11.6.1:2",
    "V13": "13.1.1:2 13.2.1:2 13.2.2:2 13.2.3:2 13.2.4:2 13.2.5:2 13.3.1:2 13.3.2:2 13.4.1:1 13.4.2:2 "
           "13.4.3:2 13.4.4:2 13.4.5:2",
    "V14": "14.1.1:2 14.1.2:2 14.2.1:1 14.2.2:2 14.2.3:2 14.2.4:2 14.3.1:1 14.3.2:2 14.3.3:2",
    "V16": "16.1.1:2 16.2.1:2 16.2.2:2 16.2.3:2 16.2.4:2 16.2.5:2 16.3.1:2 16.3.2:2 16.3.3:2 16.3.4:2 "
           "16.4.1:2 16.4.2:2 16.4.3:2 16.5.1:2 16.5.2:2 16.5.3:2",
}

_CHAPTER = re.compile(r"^## (V\d+) ")
_ROW_ID = re.compile(r"^V(\d+)\.\d+\.\d+$")
_TEST_REF = re.compile(r"(tests/[\w/.-]+\.py)::(\w+)")
_SUMMARY = re.compile(r"<!-- summary:start -->\n(.*?)<!-- summary:end -->", re.S)


@dataclass(frozen=True)
class Row:
    line: int
    chapter: str
    id: str
    level: str
    requirement: str
    status: str
    where: str
    reason: str

    @property
    def test_refs(self) -> list[tuple[str, str]]:
        return _TEST_REF.findall(self.where + " " + self.reason)


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


@cache
def rows() -> tuple[Row, ...]:
    found, chapter = [], None
    for number, line in enumerate(DOC.read_text(encoding="utf-8").splitlines(), start=1):
        heading = _CHAPTER.match(line)
        if heading:
            chapter = heading.group(1)
            continue
        if not line.startswith("| V"):
            continue
        cells = _cells(line)
        if not _ROW_ID.match(cells[0]):
            continue
        assert len(cells) == 6, f"line {number}: expected 6 cells, got {len(cells)}: {line}"
        found.append(Row(number, chapter, *cells))
    return tuple(found)


def count_by_chapter(all_rows) -> dict[str, Counter]:
    counts: dict[str, Counter] = {}
    for row in all_rows:
        counts.setdefault(row.chapter, Counter())[row.status] += 1
    return counts


def render_summary(all_rows) -> str:
    """The summary table as it must appear between the markers (used to regenerate it)."""
    lines = ["| chapter | " + " | ".join(STATUSES) + " | total |", "|---" * (len(STATUSES) + 2) + "|"]
    total = Counter()
    for chapter, counts in count_by_chapter(all_rows).items():
        total.update(counts)
        lines.append(f"| {chapter} | " + " | ".join(str(counts[s]) for s in STATUSES)
                     + f" | {sum(counts.values())} |")
    lines.append("| **total** | " + " | ".join(f"**{total[s]}**" for s in STATUSES)
                 + f" | **{sum(total.values())}** |")
    return "\n".join(lines) + "\n"


@cache
def _source(path: str) -> str | None:
    file = ROOT / path
    return file.read_text(encoding="utf-8") if file.is_file() else None


def test_the_document_has_rows():
    assert DOC.is_file()
    assert len(rows()) > 100


def test_every_status_is_allowed():
    bad = [f"line {r.line} {r.id}: {r.status!r}" for r in rows() if r.status not in STATUSES]
    assert not bad, f"statuses must be one of {STATUSES}: {bad}"


def test_ids_are_unique():
    duplicated = [i for i, n in Counter(r.id for r in rows()).items() if n > 1]
    assert not duplicated, f"duplicated IDs: {duplicated}"


def test_every_in_scope_requirement_is_listed_once_with_its_level_in_its_chapter():
    expected = {f"V{item.split(':')[0]}": (chapter, item.split(":")[1])
                for chapter, items in EXPECTED.items() for item in items.split()}
    listed = {r.id: (r.chapter, r.level) for r in rows()}
    assert sorted(set(expected) - set(listed)) == [], "requirements missing from the mapping"
    assert sorted(set(listed) - set(expected)) == [], "rows that are not L1/L2 requirements in scope"
    wrong = {i: (listed[i], expected[i]) for i in expected if listed[i] != expected[i]}
    assert not wrong, f"(chapter, level) as listed vs ASVS 5.0.0: {wrong}"


def test_paraphrases_are_short():
    long = [f"{r.id} ({len(r.requirement.split())} words)" for r in rows()
            if not r.requirement or len(r.requirement.split()) > MAX_PARAPHRASE_WORDS]
    assert not long, f"paraphrase in at most {MAX_PARAPHRASE_WORDS} words: {long}"


def test_met_rows_name_a_place_or_a_test():
    bad = [r.id for r in rows() if r.status == "met" and r.where in EMPTY and not r.test_refs]
    assert not bad, f"met without a place or a test: {bad}"


def test_rows_that_are_not_met_give_a_reason():
    bad = [r.id for r in rows() if r.status != "met" and r.reason in EMPTY]
    assert not bad, f"no reason given: {bad}"


def test_in_progress_rows_name_their_issue():
    bad = [r.id for r in rows() if r.status == "in progress" and not re.search(r"\bissue \d+", r.reason)]
    assert not bad, f"in progress without its issue: {bad}"


@pytest.mark.parametrize("row", [r for r in rows() if r.test_refs], ids=lambda r: r.id)
def test_referenced_tests_exist(row):
    for path, name in row.test_refs:
        source = _source(path)
        assert source is not None, f"{row.id}: {path} does not exist"
        assert re.search(rf"^\s*(async\s+)?def {re.escape(name)}\(", source, re.M), (
            f"{row.id}: no test function {name} in {path}")


def test_summary_equals_the_rows():
    match = _SUMMARY.search(DOC.read_text(encoding="utf-8"))
    assert match, "summary markers missing"
    assert match.group(1) == render_summary(rows()), (
        "summary out of date; regenerate it with tests.docs.test_asvs_mapping.render_summary(rows())")
