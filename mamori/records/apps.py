from django.apps import AppConfig


class RecordsConfig(AppConfig):
    name = "mamori.records"
    label = "records"
    verbose_name = "Workspaces and records"

    def ready(self) -> None:
        from django.db.models.signals import post_delete

        from mamori.lifecycle.fields import register_reencrypt_hook
        from mamori.lifecycle.walk import FileSource, register_file_source
        from mamori.records import attachments, checks  # noqa: F401 (checks registers itself)
        from mamori.records.models import Attachment

        # Deleting an attachment row (directly, with its record, or in a purge) removes its file
        # once the transaction commits.
        post_delete.connect(attachments.remove_file_of_deleted_row, sender=Attachment,
                            dispatch_uid="records.attachment_file")
        # The tenant export and the per-tenant backup pick the files up through this source.
        register_file_source(FileSource("records.attachments", attachments.tenant_files,
                                        attachments.restore_file))
        # Tenant key rotation re-encrypts the files too; finishing waits until none is on an old key.
        register_reencrypt_hook("records.attachments", attachments.reencrypt_tenant_files,
                                remaining=attachments.remaining_on_old_keys, own_transactions=True)
