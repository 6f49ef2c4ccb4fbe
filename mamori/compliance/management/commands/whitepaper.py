"""``mamori whitepaper --lang ja|en --format html|md|pdf [--out FILE]``: the security whitepaper.

Generates the provider's ISO/IEC 27017 whitepaper from the live configuration and the latest
control check results (``mamori.compliance.whitepaper``). Without ``--out`` HTML and Markdown
go to standard output; PDF needs ``--out`` (it is binary).
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from mamori.compliance import whitepaper
from mamori.compliance.whitepaper_pdf import PdfUnavailable


class Command(BaseCommand):
    help = "Generate the security whitepaper (ISO/IEC 27017) from the live configuration."

    def add_arguments(self, parser):
        parser.add_argument("--lang", choices=whitepaper.LANGS, default="ja", help="Language (default: ja).")
        parser.add_argument("--format", dest="fmt", choices=whitepaper.FORMATS, default="html",
                            help="Output format (default: html).")
        parser.add_argument("--out", default="", help="Write to this file instead of standard output.")

    def handle(self, *args, **options):
        lang, fmt, out = options["lang"], options["fmt"], options["out"]
        if fmt == "pdf" and not out:
            raise CommandError("--format pdf needs --out FILE (a PDF is binary)")
        try:
            content = whitepaper.render(lang, fmt)
        except (whitepaper.WhitepaperError, PdfUnavailable) as exc:
            raise CommandError(str(exc))
        if not out:
            self.stdout.write(content.decode("utf-8"), ending="")
            return
        try:
            Path(out).write_bytes(content)
        except OSError as exc:
            raise CommandError(f"cannot write {out}: {exc.strerror or exc}")
        self.stderr.write(f"wrote {out} ({len(content)} bytes, {lang}, {fmt})")
