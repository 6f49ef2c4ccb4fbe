"""The whitepaper as plain data (paragraphs, lists, tables), rendered to HTML, Markdown or PDF.

``whitepaper_sections`` fills these from the facts; ``whitepaper`` turns them into bytes.
A :class:`Missing` piece of text is a provider-profile field that is empty: every format
prints it as 「【未設定: field】」 / "[Not configured: field]" and HTML highlights it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext as _


class Missing(str):
    """The marker text for an empty provider-profile field (a ``str``, so it formats)."""

    def __new__(cls, dotted: str):
        return super().__new__(cls, _("[Not configured: %(field)s]") % {"field": dotted})

    def __reduce__(self):  # a cached copy is the marker text, not a new marker around it
        return (str, (str(self),))


@dataclass
class Paragraph:
    text: str
    kind: str = "p"


@dataclass
class Bullets:
    items: list[str]
    kind: str = "ul"


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    caption: str = ""
    kind: str = "table"


@dataclass
class CheckLine:
    key: str
    clause: str
    title: str
    status: str  # a registry status, or "unchecked"
    status_label: str
    summary: str
    checked_at: str  # formatted in the whitepaper's time zone, "" when never checked


@dataclass
class SectionDoc:
    number: int
    key: str
    clauses: tuple[str, ...]
    title: str
    blocks: list = field(default_factory=list)
    checks: list[CheckLine] = field(default_factory=list)

    @property
    def heading(self) -> str:
        """``"14. 仮想コンピューティング環境における分離 (CLD.9.5.1)"``; keys that are not clause
        numbers (``status``) are left out of the brackets."""
        numbers = [c for c in self.clauses if any(ch.isdigit() for ch in c)]
        return f"{self.number}. {self.title} ({' / '.join(numbers)})" if numbers else f"{self.number}. {self.title}"

    @property
    def anchor(self) -> str:
        return f"s-{self.key.replace('_', '-')}"


@dataclass
class Chapter:
    number: str  # Roman numeral as the source whitepapers print it
    title: str
    sections: list[SectionDoc]


@dataclass
class Document:
    lang: str
    title: str
    company: str
    subtitle: str
    generated_at: str
    intro: list[SectionDoc]
    chapters: list[Chapter]
    missing: list[str]
    legend: list[tuple[str, str]]

    def all_sections(self) -> list[SectionDoc]:
        return [s for chapter in self.chapters for s in chapter.sections]
