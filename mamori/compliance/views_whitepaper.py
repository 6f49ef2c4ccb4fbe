"""Public pages: the security whitepaper (``/security/whitepaper``) and its downloads.

No sign-in: the whitepaper is what the provider publishes. ``?lang=ja|en`` picks the language
(default: the visitor's language). The page links the static stylesheet, so it complies with
the site's CSP; the downloads are the standalone files of ``whitepaper.render``.

Rendering (above all the PDF) costs CPU seconds, and these URLs are public: each rendering is
cached under the fingerprint of everything the text depends on (configuration, provider
profile, newest check result), so anonymous requests re-render only when something changed.
"""

from __future__ import annotations

import logging

from django.core.cache import cache
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_safe

from mamori.compliance import whitepaper
from mamori.compliance.whitepaper_pdf import PdfUnavailable

logger = logging.getLogger(__name__)
LANGUAGE_NAMES = (("ja", "日本語"), ("en", "English"))
CACHE_SECONDS = 3600


def _cached(lang: str, part: str, make):
    from mamori.compliance.whitepaper_facts import build_facts  # noqa: PLC0415

    with translation.override(lang):
        facts = build_facts()
    key = f"mamori:whitepaper:{lang}:{part}:{whitepaper.fingerprint(facts)}"
    value = cache.get(key)
    if value is None:
        value = make(facts)
        cache.set(key, value, CACHE_SECONDS)
    return value


def _language(request) -> str:
    lang = request.GET.get("lang") or (translation.get_language() or "ja")[:2]
    return lang if lang in whitepaper.LANGS else "ja"


@require_safe
def whitepaper_page(request):
    lang = _language(request)

    def make(facts) -> dict[str, str]:
        document = whitepaper.build_document(lang, facts)
        return {"lang": lang, "title": document.title,
                "body": whitepaper.render_html(document, standalone=False)}

    page = _cached(lang, "page", make)
    with translation.override(lang):
        response = render(request, "compliance/whitepaper_page.html",
                          {"doc": page, "body": mark_safe(page["body"]),  # noqa: S308 (escaped by the template)
                           "languages": LANGUAGE_NAMES})
    response["Content-Language"] = lang
    return response


@require_safe
def whitepaper_download(request, lang: str, fmt: str):
    if lang not in whitepaper.LANGS or fmt not in whitepaper.FORMATS:
        raise Http404
    try:
        content = _cached(lang, fmt, lambda facts: whitepaper.render(lang, fmt, facts=facts))
    except PdfUnavailable as exc:
        logger.warning("whitepaper PDF unavailable: %s", exc)
        with translation.override(lang):
            return render(request, "compliance/whitepaper_unavailable.html", status=503)
    response = HttpResponse(content, content_type=whitepaper.CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{whitepaper.filename(lang, fmt)}"'
    response["Content-Language"] = lang
    return response
