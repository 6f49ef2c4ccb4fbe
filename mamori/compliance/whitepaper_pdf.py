"""HTML → PDF for the whitepaper with WeasyPrint (docs/decisions/0009-whitepaper-pdf.md).

WeasyPrint needs Pango (a system library) and, for Japanese, a CJK font known to fontconfig
(Debian: ``fonts-noto-cjk``). When either is missing the PDF is refused with a message that
says what to install, instead of a PDF with empty boxes. The HTML holds no external
resources, and the URL fetcher refuses every fetch, so rendering never touches the network
or the file system.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from functools import lru_cache

CJK_FONT = "Noto Sans CJK JP"


class PdfUnavailable(RuntimeError):
    """The PDF engine cannot run on this machine (the message says what is missing)."""


def _refuse_fetch(url: str, *args, **kwargs):
    raise ValueError(f"the whitepaper does not load external resources ({url})")


@lru_cache(maxsize=1)
def cjk_font_installed() -> bool:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return False
    try:
        output = subprocess.run([fc_list, ":lang=ja", "family"], capture_output=True, text=True,  # noqa: S603
                                timeout=20, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return CJK_FONT.lower() in output.lower()


def engine_problem() -> str | None:
    """Why a PDF cannot be made here, or ``None`` when it can."""
    try:
        import weasyprint  # noqa: F401, PLC0415
    except ImportError as exc:
        return f"PDF output needs WeasyPrint and its system libraries (apt-get install libpango-1.0-0 " \
               f"libpangoft2-1.0-0): {exc}"
    except OSError as exc:  # Pango or GObject missing
        return f"PDF output needs Pango (apt-get install libpango-1.0-0 libpangoft2-1.0-0): {exc}"
    if not cjk_font_installed():
        return f"PDF output needs the Japanese font {CJK_FONT} (apt-get install fonts-noto-cjk)"
    return None


def html_to_pdf(html: str) -> bytes:
    problem = engine_problem()
    if problem:
        raise PdfUnavailable(problem)
    import weasyprint  # noqa: PLC0415

    # WeasyPrint logs every layout step at INFO; the command and the server log only problems.
    logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
    return weasyprint.HTML(string=html, url_fetcher=_refuse_fetch).write_pdf()
