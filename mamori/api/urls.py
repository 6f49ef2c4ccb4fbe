"""URLs of ``/api/v1/``: the ninja routes, with every answer a problem document.

Ninja answers a wrong method with a plain-text 405 and its root with an HTML
404; the wrapper below turns both into problem details, and a final catch-all
answers unknown API paths the same way.
"""

from __future__ import annotations

import functools

from django.http import Http404
from django.urls import URLPattern, include, path, re_path

from mamori.api.main import api
from mamori.api.problems import PROBLEM_CONTENT_TYPE, handle_not_found, problem


def _problem_errors(view):
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            response = view(request, *args, **kwargs)
        except Http404 as exc:
            return handle_not_found(request, exc)
        if response.status_code == 405 and PROBLEM_CONTENT_TYPE not in response.get("Content-Type", ""):
            from django.utils.translation import gettext as _

            return problem(request, 405, _("This method is not allowed here."),
                           headers={"Allow": response.get("Allow", "")})
        return response

    wrapper.csrf_exempt = True  # type: ignore[attr-defined]
    return wrapper


def _wrap(pattern: URLPattern) -> URLPattern:
    return URLPattern(pattern.pattern, _problem_errors(pattern.callback), pattern.default_args, pattern.name)


def not_found(request, *args, **kwargs):
    return handle_not_found(request, None)


_patterns, _app_name, _namespace = api.urls
urlpatterns = [
    path("", include(([_wrap(p) for p in _patterns], _app_name), namespace=_namespace)),
    re_path(r"", _problem_errors(not_found)),
]
