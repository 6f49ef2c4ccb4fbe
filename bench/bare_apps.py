"""Bench-only app config: allauth's account app without its middleware requirement.

Mamori's own apps import allauth's models (the tenant data walk lists ``EmailAddress``),
so the baseline keeps allauth installed; its ``AccountConfig.ready`` would then insist on
``AccountMiddleware``, which the plain-Django baseline deliberately leaves out.
"""

from allauth.account.apps import AccountConfig as _AllauthAccountConfig


class AccountConfig(_AllauthAccountConfig):
    def ready(self) -> None:
        from allauth.account import checks  # noqa: F401 (allauth's system checks, as upstream)
