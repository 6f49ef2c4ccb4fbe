from datetime import time, timedelta

from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "mamori.operations"
    label = "operations"
    verbose_name = "Provider operations"

    def ready(self):
        # System checks: the schedule table (mamori.E301/W301) and provider MFA (mamori.E302);
        # then record the result of every periodic job's run on its ScheduledRun row.
        from mamori.core import schedule
        from mamori.operations import checks  # noqa: F401

        schedule.connect_result_signals()

        # Staff TOTP secrets are wrapped by the master key: re-wrap them when it rotates.
        from mamori.lifecycle.keys import register_master_rewrap
        from mamori.operations.mfa import rewrap_staff_secrets

        register_master_rewrap("staff_totp_secrets", rewrap_staff_secrets)

        # Weekly dependency vulnerability audit (12.6.1) at 20:00 UTC (05:00 in Tokyo).
        from mamori.operations.tasks import vulnerability_audit_task

        schedule.register_periodic("security.vulnerability_audit", timedelta(days=7), vulnerability_audit_task,
                                   at=time(20, 0))
