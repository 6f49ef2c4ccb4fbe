"""The tenant's data settings pages, listed on one overview (Settings → Data).

Each area adds one entry: the URL name of its page, a title and a one-line
description (both lazily translated). The overview and the navigation read this
list, so a new data page appears without editing templates.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class DataPage:
    url_name: str
    title: str
    description: str


DATA_PAGES: list[DataPage] = [
    DataPage("console:data_export", _("Export all data"),
             _("Download every table of your tenant's data (CSV and JSON lines), the attachments and a signed manifest.")),
    DataPage("console:data_backups", _("Backups of your data"),
             _("The daily encrypted backups of your tenant, from which the provider can restore your tenant alone.")),
    DataPage("console:data_termination", _("Terminate the contract"),
             _("End the contract: after a grace period every record, file and backup is deleted for good, "
               "with a signed deletion certificate.")),
]
