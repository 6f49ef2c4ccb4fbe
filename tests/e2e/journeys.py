"""Shared helpers of the browser journeys (issue 9, item 6): every journey runs in Japanese and
English, checks the page speaks the language, runs cheap accessibility checks and keeps
screenshots of its key pages for the docs (docs/journeys.md)."""

from __future__ import annotations

from django.utils import translation

from mamori.access.roles import Role
from mamori.audit.events import Actor
from mamori.tenancy.context import use_tenant

LANGS = ["ja", "en"]
PASSWORD = "correct horse battery staple"
STAFF_PASSWORD = "provider staff passphrase 9"

# Form controls every visible one of which needs an accessible name (label, aria-label/-labelledby
# or title). Hidden inputs, buttons and the honeypot (aria-hidden / not rendered) do not count.
_UNLABELLED_JS = """() => {
  const out = [];
  for (const el of document.querySelectorAll('input, select, textarea')) {
    const type = (el.getAttribute('type') || '').toLowerCase();
    if (['hidden', 'submit', 'button', 'reset', 'image'].includes(type)) continue;
    if (!(el.offsetWidth || el.offsetHeight || el.getClientRects().length)) continue;
    if (el.closest('[aria-hidden=true]')) continue;
    const named = (el.labels && el.labels.length) || el.getAttribute('aria-label')
      || el.getAttribute('aria-labelledby') || el.getAttribute('title');
    if (!named) out.push(el.outerHTML.slice(0, 120));
  }
  return out;
}"""


def tr(lang: str, msgid: str, **params) -> str:
    """The string the page shows in ``lang``, from the project's own catalogue.

    In Japanese the catalogue must translate it (a journey asserting on an untranslated
    string would prove nothing about the Japanese page).
    """
    with translation.override(lang):
        text = translation.gettext(msgid)
    if lang == "ja":
        assert text != msgid, f"no Japanese translation for {msgid!r}"
    return text % params if params else text


def check_page(page, lang: str) -> None:
    """Accessibility smoke test of the current page: exactly one <h1>, <html lang> is the
    journey's language, every visible form control has an accessible name."""
    assert page.locator("h1").count() == 1, (page.url, page.locator("h1").all_inner_texts())
    assert (page.locator("html").get_attribute("lang") or "").split("-")[0] == lang, page.url
    unlabelled = page.evaluate(_UNLABELLED_JS)
    assert unlabelled == [], (page.url, unlabelled)


def heading(page, lang: str, msgid: str, **params) -> None:
    """The page's <h1> is the translated ``msgid`` (and the page passes ``check_page``)."""
    check_page(page, lang)
    assert page.locator("h1").inner_text().strip() == tr(lang, msgid, **params), page.url


def shot_name(base: str, lang: str) -> str:
    """English screenshots keep their historical names (README links them); Japanese ones end in -ja."""
    return base if lang == "en" else f"{base}-ja"


def set_language(context, live_server, lang: str) -> None:
    context.add_cookies([{"name": "django_language", "value": lang, "url": live_server.url}])


def new_tab(page, live_server, lang: str):
    """A second browser (own cookies) in the same language, e.g. the tenant admin next to staff."""
    context = page.context.browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    set_language(context, live_server, lang)
    tab = context.new_page()
    tab.set_default_timeout(60_000)  # the shared test machine can be slow
    return tab


def make_tenant(slug: str, name: str, *, admin_email: str, lang: str, role=Role.TENANT_ADMIN, password=PASSWORD):
    """A tenant with one user of ``role`` whose password is known."""
    from mamori.accounts.models import User
    from mamori.tenancy.actions import create_tenant

    with use_tenant(None):
        tenant, _owner, _secret = create_tenant(actor=Actor.system("e2e"), slug=slug, name=name,
                                                admin_email=f"owner@{slug}.example")
    with use_tenant(tenant):
        user = User(tenant=tenant, email=admin_email, name="Admin", role=role, language=lang)
        user.set_password(password)
        user.save()
    return tenant, user


def make_staff(email: str, role: str = "operator", name: str = ""):
    from mamori.operations.actions import create_staff

    with use_tenant(None):
        return create_staff(actor=Actor.system("e2e"), email=email, password=STAFF_PASSWORD, role=role,
                            name=name or email)


def sign_in(page, base: str, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/accounts/login/")
    page.locator("#id_login").fill(email)
    page.locator("#id_password").fill(password)
    page.locator("#id_password").press("Enter")
    page.wait_for_url(f"{base}/")


def staff_sign_in(page, live_server, email: str) -> None:
    """Provider console sign-in with a password (staff MFA is off in tests unless a test turns it on)."""
    page.goto(f"{live_server.url}/provider/login/")
    page.locator("#id_email").fill(email)
    page.locator("#id_password").fill(STAFF_PASSWORD)
    page.locator("#id_password").press("Enter")
    page.wait_for_url(f"{live_server.url}/provider/")


def confirm_password(page, password: str = PASSWORD) -> None:
    """Answer the re-authentication page if the console asks for the password again."""
    page.wait_for_load_state()
    if "/accounts/reauthenticate/" in page.url:
        page.locator("#id_password").fill(password)
        page.locator("#id_password").press("Enter")
        page.wait_for_load_state()
