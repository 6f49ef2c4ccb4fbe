"""Console views stay thin: no raw tenant-model queries, no writes, no |safe on data."""

from __future__ import annotations

import re
from pathlib import Path

import mamori.console

CONSOLE = Path(mamori.console.__file__).resolve().parent
VIEWS = sorted((CONSOLE / "views").glob("*.py"))
TEMPLATE_DIRS = [CONSOLE / "templates", CONSOLE.parent / "templates"]


def test_views_read_through_queries_and_write_through_actions():
    offenders = []
    for path in VIEWS:
        source = path.read_text(encoding="utf-8")
        for pattern in (r"\.objects\b", r"\.save\(", r"\.delete\(\)", r"\.create\("):
            if re.search(pattern, source):
                offenders.append(f"{path.name}: {pattern}")
    assert not offenders, offenders


def test_templates_never_mark_data_safe():
    allowed = {"field.help_text|safe"}  # help texts come from code, never from users
    offenders = []
    for directory in TEMPLATE_DIRS:
        for path in directory.rglob("*.html"):
            for match in re.finditer(r"\{\{\s*([^}]*\|\s*safe[^}]*)\}\}", path.read_text(encoding="utf-8")):
                if match.group(1).replace(" ", "") not in allowed:
                    offenders.append(f"{path.relative_to(directory)}: {match.group(0)}")
            if "{% autoescape off" in path.read_text(encoding="utf-8"):
                offenders.append(f"{path.relative_to(directory)}: autoescape off")
    assert not offenders, offenders


def test_no_inline_style_or_script_in_templates():
    offenders = []
    for directory in TEMPLATE_DIRS:
        for path in directory.rglob("*.html"):
            text = path.read_text(encoding="utf-8")
            if re.search(r"\sstyle=|<style|<script(?![^>]*\ssrc=)|\son[a-z]+=", text):
                offenders.append(str(path.relative_to(directory)))
    assert not offenders, offenders
