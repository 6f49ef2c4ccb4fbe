"""``mamori check [--deploy]``: Django's system checks, strict for deployment.

Django reports most insecure deployment settings as *warnings* and exits 0 on
them. Under ``--deploy`` Mamori fails on warnings too (``--fail-level``
defaults to WARNING), so ``mamori check --deploy`` exits non-zero on any
insecure production setting. Mamori's own deployment checks live in
``mamori.core.checks``. Without ``--deploy`` the default stays ERROR.

This command replaces Django's ``check`` because ``mamori.core`` comes before
``django.contrib`` in ``INSTALLED_APPS`` (earlier apps win for commands).
"""

from __future__ import annotations

from django.core.management.commands.check import Command as DjangoCheckCommand


class Command(DjangoCheckCommand):
    help = (
        "Check the project for problems. With --deploy, also check production settings and "
        "fail on warnings (insecure settings exit non-zero)."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        for action in parser._actions:
            if action.dest == "fail_level":
                action.default = None
                action.help = (
                    "Message level that makes the command exit non-zero. "
                    "Default: WARNING with --deploy, ERROR otherwise."
                )

    def handle(self, *app_labels, **options):
        if not options.get("fail_level"):
            options["fail_level"] = "WARNING" if options.get("deploy") else "ERROR"
        return super().handle(*app_labels, **options)
