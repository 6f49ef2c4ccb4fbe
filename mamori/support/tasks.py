"""The periodic job closing support grants whose end has passed.

Access already stops at ``approved_until`` by the check on every request
(``mamori.support.sessions``); the job closes the grant (state ``expired``, support user
disabled, its sessions ended, audited) even when nobody uses it any more.
"""

from __future__ import annotations

from django.utils import timezone
from django_tasks import task

from mamori.support.models import SupportAccessRequest
from mamori.tenancy.context import tenant_context
from mamori.tenancy.models import Tenant


def expire_due_across_tenants(now=None) -> int:
    from mamori.support.actions import expire_access

    now = now or timezone.now()
    closed = 0
    for tenant in Tenant.objects.exclude(status=Tenant.Status.PURGED).order_by("pk"):
        with tenant_context(tenant):
            due = list(SupportAccessRequest.objects.filter(
                state=SupportAccessRequest.State.APPROVED, approved_until__lte=now).values_list("pk", flat=True))
        for pk in due:
            if expire_access(tenant=tenant, grant_id=pk, now=now) is not None:
                closed += 1
    return closed


@task()
def expire_support_access_task() -> int:
    """The periodic job (every 5 minutes)."""
    return expire_due_across_tenants()
