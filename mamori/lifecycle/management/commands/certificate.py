"""``mamori certificate verify FILE | show [ID|SLUG] | list``: deletion certificates.

``verify FILE`` checks a certificate file (as e-mailed to the customer or saved with
``show``): exit status 0 and "valid" when the provider's Ed25519 key (or ``--public-key
PEM_FILE``) signed exactly this content, 1 with the reason otherwise. ``show`` prints a
stored certificate (by certificate id or tenant slug; the newest without argument).
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from mamori.core.management.base import dump_json, invalid
from mamori.lifecycle.certificate import verify_document
from mamori.lifecycle.models import DeletionCertificate


class Command(BaseCommand):
    help = "Verify, show and list deletion certificates."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="{verify,show,list}")
        verify = sub.add_parser("verify", help="Verify a certificate file (exit 0: valid, 1: not valid).")
        verify.add_argument("file")
        verify.add_argument("--public-key", help="PEM file of the signer's public key "
                                                 "(default: this provider's signing key).")
        show = sub.add_parser("show", help="Print a stored certificate (JSON).")
        show.add_argument("ident", nargs="?", default="", help="Certificate id or tenant slug (default: newest).")
        listing = sub.add_parser("list", help="List stored certificates.")
        listing.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        return getattr(self, "_" + options["subcommand"])(options)

    def _verify(self, options):
        try:
            text = Path(options["file"]).read_bytes()
        except OSError as exc:
            raise invalid(f"{options['file']}: cannot read ({exc.strerror or exc}).") from None
        public = None
        if options["public_key"]:
            try:
                public = Path(options["public_key"]).read_text(encoding="ascii")
            except (OSError, UnicodeDecodeError) as exc:
                raise invalid(f"{options['public_key']}: cannot read the public key ({exc}).") from None
        result = verify_document(text, public_key_pem=public)
        if not result.ok:
            raise CommandError(f"{options['file']}: NOT VALID: {result.message}", returncode=1)
        self.stdout.write(self.style.SUCCESS(
            f"{options['file']}: {result.message} (key {result.key_id}); certificate {result.certificate_id}, "
            f"tenant {result.tenant_slug}."))

    def _show(self, options):
        ident = options["ident"].strip()
        rows = DeletionCertificate.objects.order_by("-issued_at", "-id")
        if ident:
            rows = rows.filter(certificate_id=ident) | rows.filter(tenant_slug=ident)
        cert = rows.order_by("-issued_at", "-id").first()
        if cert is None:
            raise invalid(f"No deletion certificate {ident!r}." if ident else "No deletion certificates.")
        self.stdout.write(cert.document, ending="")

    def _list(self, options):
        rows = [{"certificate_id": c.certificate_id, "tenant": c.tenant_slug, "tenant_id": c.tenant_ref,
                 "issued_at": c.issued_at.isoformat(), "rows_deleted": c.rows_deleted,
                 "files_removed": c.files_removed, "sha256": c.sha256}
                for c in DeletionCertificate.objects.order_by("-issued_at", "-id")]
        if options["json"]:
            self.stdout.write(dump_json(rows))
            return
        if not rows:
            self.stdout.write("No deletion certificates.")
        for r in rows:
            self.stdout.write(f"{r['certificate_id']}  {r['tenant']:<20} {r['issued_at']}  rows {r['rows_deleted']}")
