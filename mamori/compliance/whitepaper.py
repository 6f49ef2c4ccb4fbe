"""The provider's ISO/IEC 27017 security whitepaper, generated from the running system (14.1.1).

``render(lang, fmt) -> bytes`` is the public API (the CLI ``mamori whitepaper``, the public
page ``/security/whitepaper`` and the auditor export call it):

* ``lang``: ``"ja"`` or ``"en"``;
* ``fmt``: ``"html"`` (standalone file, print CSS inlined, no external resources, no script),
  ``"md"`` (Markdown) or ``"pdf"`` (WeasyPrint, Japanese fonts; see ``whitepaper_pdf``).

The sections, their order and clause numbers come from ``mamori.compliance.sections``; the
numbers in the text from ``whitepaper_facts.build_facts()``; each section ends with the latest
result of its controls (``mamori.compliance.registry``) or "not yet checked".
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from pathlib import Path

from django.template.loader import render_to_string
from django.utils import translation
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from mamori.compliance import registry
from mamori.compliance import whitepaper_sections as prose
from mamori.compliance.sections import SECTIONS
from mamori.compliance.whitepaper_facts import Facts, build_facts
from mamori.compliance.whitepaper_model import (
    Bullets,
    Chapter,
    CheckLine,
    Document,
    Paragraph,
    SectionDoc,
    Table,
)

LANGS = ("ja", "en")
FORMATS = ("html", "md", "pdf")
CONTENT_TYPES = {
    "html": "text/html; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "pdf": "application/pdf",
}
UNCHECKED = "unchecked"
STYLESHEET = Path(__file__).resolve().parent / "static" / "compliance" / "whitepaper.css"


class WhitepaperError(ValueError):
    """Bad language or format, or the PDF engine cannot run here (the message says why)."""


def status_labels() -> dict[str, str]:
    return {
        registry.PASS: _("Pass"),
        registry.FAIL: _("Fail"),
        registry.NOT_APPLICABLE: _("Not applicable"),
        registry.ERROR: _("Error"),
        registry.ORGANISATIONAL: _("Organisational"),
        UNCHECKED: _("Not yet checked"),
    }


def _check_lines(section_key: str, facts: Facts) -> list[CheckLine]:
    labels = status_labels()
    lines = []
    for item in registry.controls():
        if item.section != section_key:
            continue
        result = facts.results.get(item.key)
        if result is None:
            lines.append(CheckLine(item.key, item.clause, str(item.title), UNCHECKED, labels[UNCHECKED],
                                   _("This control has not been checked yet."), ""))
            continue
        status = getattr(result, "status", UNCHECKED)
        checked_at = getattr(result, "checked_at", None)
        lines.append(CheckLine(
            item.key, item.clause, str(item.title), status, labels.get(status, status),
            str(getattr(result, "summary", "") or ""),
            prose.format_time(checked_at, facts) if checked_at else "",
        ))
    return lines


def build_document(lang: str, facts: Facts | None = None) -> Document:
    """The whitepaper as data, in ``lang`` (activates the language while building)."""
    if lang not in LANGS:
        raise WhitepaperError(f"language must be one of {', '.join(LANGS)}, not {lang!r}")
    with translation.override(lang):
        facts = facts or build_facts()
        intro = [SectionDoc(n, f"intro-{n}", (), title, blocks)
                 for n, (title, blocks) in enumerate(prose.intro(facts, lang), start=1)]
        sections = []
        for number, section in enumerate(SECTIONS, start=1):
            blocks = prose.BUILDERS[section.key](facts, lang)
            sections.append(SectionDoc(number, section.key, section.clauses, str(section.title), blocks,
                                       _check_lines(section.key, facts)))
        company = prose.company(facts, lang)
        labels = status_labels()
        return Document(
            lang=lang,
            title=_("Security whitepaper"),
            company=company,
            subtitle=_("Information disclosure based on ISO/IEC 27017:2015"),
            generated_at=prose.format_time(facts.generated_at, facts),
            intro=intro,
            chapters=[Chapter("II", _("Cloud security measures of the Service"), sections)],
            missing=list(facts.missing),
            legend=[(key, labels[key]) for key in (registry.PASS, registry.FAIL, registry.ERROR,
                                                   registry.NOT_APPLICABLE, registry.ORGANISATIONAL, UNCHECKED)],
        )


# --- HTML ----------------------------------------------------------------------------------

_MISSING = re.compile(r"(【未設定: [^】]+】|\[Not configured: [^\]]+\])")


def html_text(text: str) -> str:
    """Escape ``text`` and highlight missing-field markers."""
    return mark_safe(_MISSING.sub(r'<mark class="missing">\1</mark>', str(escape(text))))  # noqa: S308


def _html_blocks(blocks) -> list[dict]:
    out = []
    for block in blocks:
        if isinstance(block, Paragraph):
            out.append({"kind": block.kind, "text": html_text(block.text)})
        elif isinstance(block, Bullets):
            out.append({"kind": "ul", "items": [html_text(i) for i in block.items]})
        elif isinstance(block, Table):
            out.append({"kind": "table", "caption": block.caption, "headers": block.headers,
                        "rows": [[html_text(c) for c in row] for row in block.rows]})
    return out


def html_context(document: Document) -> dict:
    def section(s: SectionDoc) -> dict:
        return {"number": s.number, "heading": s.heading, "anchor": s.anchor, "title": s.title,
                "clauses": s.clauses, "blocks": _html_blocks(s.blocks), "checks": s.checks}

    return {
        "doc": document,
        "intro": [section(s) for s in document.intro],
        "chapters": [{"number": c.number, "title": c.title, "sections": [section(s) for s in c.sections]}
                     for c in document.chapters],
    }


def render_html(document: Document, *, standalone: bool = True) -> str:
    with translation.override(document.lang):
        context = html_context(document)
        if standalone:
            context["stylesheet"] = mark_safe(STYLESHEET.read_text(encoding="utf-8"))  # noqa: S308 (our own file)
            return render_to_string("compliance/whitepaper.html", context)
        return render_to_string("compliance/whitepaper_body.html", context)


# --- Markdown ------------------------------------------------------------------------------

def md_escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_blocks(blocks) -> list[str]:
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, Paragraph):
            lines += [f"> {block.text}" if block.kind == "note" else str(block.text), ""]
        elif isinstance(block, Bullets):
            lines += [f"- {item}" for item in block.items] + [""]
        elif isinstance(block, Table):
            if block.caption:
                lines += [f"*{block.caption}*", ""]
            lines.append("| " + " | ".join(md_escape(h) for h in block.headers) + " |")
            lines.append("|" + "---|" * len(block.headers))
            lines += ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in block.rows]
            lines.append("")
    return lines


def _md_checks(section: SectionDoc) -> list[str]:
    lines = [f"**{_('Check results')}**", ""]
    if not section.checks:
        return lines + [_("No automated check covers this section."), ""]
    lines.append(f"| {_('Clause')} | {_('Control')} | {_('Result')} | {_('Summary')} | {_('Checked at')} |")
    lines.append("|---|---|---|---|---|")
    for line in section.checks:
        lines.append(f"| {line.clause} | {md_escape(line.title)} | {line.status_label} | {md_escape(line.summary)} "
                     f"| {line.checked_at or '—'} |")
    return lines + [""]


def render_md(document: Document) -> str:
    with translation.override(document.lang):
        lines = [f"# {document.company} {document.title}", "", document.subtitle, "",
                 _("Generated: %(time)s") % {"time": document.generated_at}, ""]
        if document.missing:
            lines += [f"> **{_('Provider profile fields not configured')}:** "
                      + ", ".join(f"`{m}`" for m in document.missing), ""]
        lines += [f"## I. {_('Introduction')}", ""]
        for s in document.intro:
            lines += [f"### {s.number}. {s.title}", ""] + _md_blocks(s.blocks)
        for chapter in document.chapters:
            lines += [f"## {chapter.number}. {chapter.title}", ""]
            for s in chapter.sections:
                lines += [f"### {s.heading}", ""] + _md_blocks(s.blocks) + _md_checks(s)
        lines += [f"## III. {_('Legend of check results')}", ""]
        lines += [f"- {label}" for _key, label in document.legend]
        return "\n".join(lines).rstrip() + "\n"


# --- entry point ---------------------------------------------------------------------------

def fingerprint(facts: Facts) -> str:
    """A digest of everything the text depends on (not the generation time): equal
    fingerprints give the same whitepaper, so the public page can reuse a rendering."""
    from mamori.compliance.models import ControlResult  # noqa: PLC0415

    stable = dataclasses.replace(facts, generated_at=None, results={})
    newest = ControlResult.objects.order_by("-id").values_list("id", flat=True).first()
    return hashlib.sha256(f"{stable!r}|{newest}".encode()).hexdigest()[:32]


def render(lang: str, fmt: str, *, facts: Facts | None = None) -> bytes:
    """The whitepaper in ``lang`` (ja|en) and ``fmt`` (html|md|pdf), as bytes."""
    if fmt not in FORMATS:
        raise WhitepaperError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    document = build_document(lang, facts)
    if fmt == "md":
        return render_md(document).encode("utf-8")
    html = render_html(document)
    if fmt == "html":
        return html.encode("utf-8")
    from mamori.compliance.whitepaper_pdf import html_to_pdf  # noqa: PLC0415

    return html_to_pdf(html)


def filename(lang: str, fmt: str) -> str:
    return f"security-whitepaper-{lang}.{fmt}"
