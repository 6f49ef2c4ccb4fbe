"""CSV bulk user management in the console: upload → preview → apply → result; export; sample.

The uploaded file is kept server-side between the preview and the apply: it is written
under ``MAMORI_DATA_DIR/user-imports/`` with a random name, and the page carries only a
signed token naming that file, the tenant, the user and the file's SHA-256 (valid one
hour). Apply checks the token, reads the file back, checks everything again
(``apply_user_import`` re-runs the preview) and deletes the file. Only users with
``users.manage``; unit admins see and change only the users of their units.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache

from mamori.access.roles import Perm
from mamori.access.scope import manageable_users
from mamori.accounts import csv_users
from mamori.accounts.actions_csv import ImportRejected, apply_user_import
from mamori.console.views.common import FORM, READ, WRITE, actor, console_view

STASH_SALT = "mamori.console.user-import"
STASH_MAX_AGE = 3600
PREVIEW_SHOWN = 500  # rows listed in full on the preview page (every row with an error is listed)
RESULT_KEY = "mamori_user_import_result"


class UploadForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("CSV file"),
                           help_text=gettext_lazy("UTF-8, UTF-8 with BOM or Shift_JIS; at most 5 MB and 20,000 rows."))


# --- Server-side stash of the uploaded file ------------------------------------------------------

def _stash_dir() -> Path:
    path = Path(settings.DATA_DIR) / "user-imports"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _sweep(directory: Path) -> None:
    """Remove uploads nobody applied (older than the token's lifetime)."""
    limit = time.time() - STASH_MAX_AGE - 60
    for old in directory.glob("*.csv"):
        try:
            if old.stat().st_mtime < limit:
                old.unlink()
        except OSError:
            pass


def stash(request, data: bytes) -> str:
    directory = _stash_dir()
    _sweep(directory)
    name = secrets.token_hex(16)
    path = directory / f"{name}.csv"
    path.write_bytes(data)
    path.chmod(0o600)
    return signing.dumps({"f": name, "t": request.tenant.pk, "u": request.user.pk,
                          "h": hashlib.sha256(data).hexdigest()}, salt=STASH_SALT)


def unstash(request, token: str) -> tuple[bytes, Path] | None:
    """The stashed bytes and their path, or None when the token is invalid, expired or not ours."""
    try:
        value = signing.loads(token or "", salt=STASH_SALT, max_age=STASH_MAX_AGE)
    except signing.BadSignature:
        return None
    if value.get("t") != request.tenant.pk or value.get("u") != request.user.pk:
        return None
    name = str(value.get("f", ""))
    if len(name) != 32 or not all(c in "0123456789abcdef" for c in name):
        return None
    path = _stash_dir() / f"{name}.csv"
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() != value.get("h"):
        return None
    return data, path


# --- Views ----------------------------------------------------------------------------------------

def _preview_context(result: csv_users.Preview) -> dict:
    rows = result.rows
    shown = [row for index, row in enumerate(rows) if index < PREVIEW_SHOWN or row.errors]
    return {"preview": result, "rows": shown, "hidden": len(rows) - len(shown), "counts": result.counts,
            "error_count": len(result.errors)}


@never_cache
@console_view(FORM, perm=Perm.MANAGE_USERS)
def user_import(request):
    """GET: the upload form (and the result of the last apply). POST: the preview."""
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > csv_users.MAX_BYTES:
            form.add_error("file", _("The file is larger than %(mib)d MB. Split it into several files.")
                           % {"mib": csv_users.MAX_BYTES // (1024 * 1024)})
        else:
            data = upload.read()
            result = csv_users.preview(actor_user=request.user, data=data)
            context = _preview_context(result)
            context["filename"] = upload.name
            if result.ok and any(row.action != csv_users.UNCHANGED for row in result.rows):
                context["token"] = stash(request, data)
            return render(request, "console/users/import_preview.html", context)
    return render(request, "console/users/import.html", {
        "form": form, "result": request.session.pop(RESULT_KEY, None),
        "columns": csv_users.COLUMNS, "max_rows": csv_users.MAX_ROWS,
    })


@never_cache
@console_view(WRITE, perm=Perm.MANAGE_USERS, reauth=True)
def user_import_apply(request):
    stashed = unstash(request, request.POST.get("token", ""))
    if stashed is None:
        messages.error(request, _("The uploaded file has expired or is not yours. Upload it again."))
        return redirect("console:user_import")
    data, path = stashed
    try:
        outcome = apply_user_import(actor=actor(request), data=data)
    except ImportRejected as exc:
        context = _preview_context(exc.preview)
        context["changed_meanwhile"] = True
        return render(request, "console/users/import_preview.html", context, status=422)
    finally:
        path.unlink(missing_ok=True)
    request.session[RESULT_KEY] = outcome.as_dict()
    messages.success(request, _("The import was applied."))
    return redirect("console:user_import")


@never_cache
@console_view(READ, perm=Perm.MANAGE_USERS)
def user_export(request):
    """The users the signed-in admin manages, as CSV (UTF-8 with BOM, or ``?encoding=cp932``)."""
    encoding = "cp932" if request.GET.get("encoding") == "cp932" else "utf-8"
    header = "ja" if request.GET.get("header") == "ja" else "en"
    users = manageable_users(request.user).order_by("email")
    try:
        data = csv_users.export_users(users, encoding=encoding, header=header)
    except UnicodeEncodeError:
        messages.error(request, _("Some names cannot be written in Shift_JIS. Export as UTF-8 instead."))
        return redirect("console:user_import")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = HttpResponse(data, content_type=f"text/csv; charset={'shift_jis' if encoding == 'cp932' else 'utf-8'}")
    response["Content-Disposition"] = f'attachment; filename="users-{request.tenant.slug}-{stamp}.csv"'
    return response


@console_view(READ, perm=Perm.MANAGE_USERS)
def user_import_sample(request):
    response = HttpResponse(csv_users.sample_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="mamori-users-sample.csv"'
    return response
