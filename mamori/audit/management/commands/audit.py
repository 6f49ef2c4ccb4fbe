"""``mamori audit verify|digest|public-key``: check the audit chains, sign digests, show the key.

``verify`` recomputes every chain (or one tenant's, or the provider's), checks the
signed digests, and exits 1 naming the chain and the first bad sequence number.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from mamori.audit.digests import seal_digests_now
from mamori.audit.signing import key_id, key_source, known_public_keys, public_key_pem
from mamori.audit.verify import verify_across_tenants
from mamori.core.management.base import cli_actor, dump_json, invalid
from mamori.evidence.management.commands.audit_purge import add_purge_arguments, run_purge
from mamori.tenancy.actions import list_tenants_across_tenants


class Command(BaseCommand):
    help = "Verify the tamper-evident audit chains, sign digests, print the public key."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True,
                                    metavar="{verify,digest,public-key,purge}")
        verify = sub.add_parser("verify", help="Recompute the chains and check the signed digests.")
        verify.add_argument("--tenant", help="Only this tenant's chain (slug).")
        verify.add_argument("--provider", action="store_true",
                            help="The provider chain (alone, or with --tenant).")
        verify.add_argument("--json", action="store_true", help="Print the result as JSON.")
        digest = sub.add_parser("digest", help="Sign a digest of every chain with new events now.")
        digest.add_argument("--json", action="store_true", help="Print the result as JSON.")
        public = sub.add_parser("public-key", help="Print the public key that verifies the digests (PEM).")
        public.add_argument("--all", action="store_true",
                            help="Also the retired keys (MAMORI_SIGNING_RETIRED_PUBLIC_KEYS_FILE) that "
                                 "verify older digests, checkpoints and certificates.")
        add_purge_arguments(sub.add_parser("purge", help="Remove expired events (retention); signed checkpoints."))

    def handle(self, *args, **options):
        return getattr(self, "_" + options["subcommand"].replace("-", "_"))(options)

    def _verify(self, options):
        tenants = None
        if options["tenant"]:
            slug = options["tenant"].strip().lower()
            tenants = list(list_tenants_across_tenants().filter(slug=slug))
            if not tenants:
                raise invalid(f"No tenant with slug {options['tenant']!r}.")
        elif options["provider"]:
            tenants = []
        provider = options["provider"] or not options["tenant"]
        reports = verify_across_tenants(tenants, provider=provider, actor=cli_actor())
        failed = [r for r in reports if not r.ok]
        if options["json"]:
            self.stdout.write(dump_json({"ok": not failed, "chains": [r.as_dict() for r in reports]}))
        else:
            for report in reports:
                line = report.describe()
                self.stdout.write(self.style.SUCCESS(line) if report.ok else self.style.ERROR(line))
        if failed:
            first = failed[0]
            raise CommandError(f"Audit chain verification failed: chain {first.chain} ({first.label}), "
                               f"first bad seq {first.first_bad_seq}: {first.reason}"
                               + (f" (and {len(failed) - 1} more chains)" if len(failed) > 1 else ""))

    def _digest(self, options):
        summary = seal_digests_now()
        if options["json"]:
            self.stdout.write(dump_json(summary))
        else:
            self.stdout.write(self.style.SUCCESS(
                f"{summary['digests']} digests signed covering {summary['events']} new events "
                f"({summary['chains']} chains) with key {key_id()}."))

    def _purge(self, options):
        run_purge(self, options)

    def _public_key(self, options):
        self.stdout.write(f"# key id {key_id()} (from {key_source()})")
        self.stdout.write(public_key_pem().rstrip())
        if options.get("all"):
            for kid, pem in known_public_keys().items():
                if kid != key_id():
                    self.stdout.write(f"# key id {kid} (retired)")
                    self.stdout.write(pem.rstrip())
