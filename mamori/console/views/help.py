"""Console help: short pages that explain how Mamori works, in Japanese and English.

``HELP_TOPICS`` is the table of contents: (slug, title, template). Each topic is a
template under ``console/help/``; helpers add a line here for their own topic. The
roles page renders the permission matrix from ``mamori.access.roles.MATRIX`` so the
help cannot drift from the code.
"""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from mamori.access.roles import MATRIX, UNIT_ADMIN_GRANTABLE_ROLES, Perm, Role
from mamori.console.views.common import console_view

HELP_TOPICS: list[tuple[str, object, str]] = [
    ("roles", _("Roles, organizational units and the permission matrix"), "console/help/roles.html"),
    ("users", _("Users: invitations, passwords, suspension and deletion"), "console/help/users.html"),
    ("signins", _("Sign-in history and lockouts"), "console/help/signins.html"),
    ("password-policy", _("Password policy"), "console/help/password_policy.html"),
    ("user-csv", _("Bulk user management with CSV files"), "console/help/user_csv.html"),
    ("mfa", _("Two-factor authentication (MFA)"), "console/help/mfa.html"),
]


def matrix_rows() -> list[dict]:
    """One row per permission, one cell per role (in ``Role`` order): True if granted."""
    roles = list(Role)
    return [
        {"perm": perm, "cells": [perm in MATRIX.get(role, frozenset()) for role in roles]}
        for perm in Perm
    ]


def _topic(slug: str) -> tuple[str, object, str]:
    for topic in HELP_TOPICS:
        if topic[0] == slug:
            return topic
    raise Http404


@console_view()
def help_index(request):
    return render(request, "console/help/index.html", {
        "topics": [{"slug": slug, "title": title} for slug, title, _template in HELP_TOPICS],
    })


@console_view()
def help_topic(request, slug: str):
    slug, title, template = _topic(slug)
    return render(request, template, {
        "topic_slug": slug,
        "topic_title": title,
        "roles": list(Role),
        "matrix": matrix_rows(),
        "unit_admin_grantable": [role for role in Role if role in UNIT_ADMIN_GRANTABLE_ROLES],
    })
