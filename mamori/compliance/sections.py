"""The whitepaper's sections, in the order and with the clause numbers of the source
whitepapers (ISO/IEC 27002 / 27017 numbering). Every control registered with
``@control(section=...)`` names one of these keys; the whitepaper prints each section with
the controls (and their latest check results) that belong to it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Section:
    key: str
    clauses: tuple[str, ...]
    title: object  # lazy translated


SECTIONS: tuple[Section, ...] = (
    Section("policies", ("5.1.1",), _("Information security policies")),
    Section("responsibility", ("6.1.1", "CLD.6.3.1"), _("Shared roles and responsibilities")),
    Section("data_location", ("6.1.3",), _("Contact with authorities and data location")),
    Section("training", ("7.2.2",), _("Awareness, education and training")),
    Section("asset_inventory", ("8.1.1",), _("Inventory of assets")),
    Section("asset_removal", ("CLD.8.1.5",), _("Removal of cloud service customer assets")),
    Section("labelling", ("8.2.2",), _("Labelling of information")),
    Section("registration", ("9.2.1",), _("User registration and de-registration")),
    Section("access_provisioning", ("9.2.2",), _("User access provisioning")),
    Section("privileged_access", ("9.2.3",), _("Management of privileged access rights")),
    Section("secret_authentication", ("9.2.4",), _("Management of secret authentication information")),
    Section("access_restriction", ("9.4.1",), _("Information access restriction")),
    Section("utility_programs", ("9.4.4",), _("Use of privileged utility programs")),
    Section("segregation", ("CLD.9.5.1",), _("Segregation in virtual computing environments")),
    Section("hardening", ("CLD.9.5.2",), _("Virtual machine hardening")),
    Section("cryptography", ("10.1.1",), _("Policy on the use of cryptographic controls")),
    Section("disposal", ("11.2.7",), _("Secure disposal or re-use of equipment")),
    Section("change_management", ("12.1.2",), _("Change management")),
    Section("capacity", ("12.1.3",), _("Capacity management")),
    Section("operations_manuals", ("CLD.12.1.5",), _("Administrator's operational security")),
    Section("backup", ("12.3.1",), _("Information backup")),
    Section("event_logging", ("12.4.1",), _("Event logging")),
    Section("operator_logs", ("12.4.3",), _("Administrator and operator logs")),
    Section("clock", ("12.4.4",), _("Clock synchronisation")),
    Section("monitoring", ("CLD.12.4.5",), _("Monitoring of cloud services")),
    Section("vulnerabilities", ("12.6.1",), _("Management of technical vulnerabilities")),
    Section("network_segregation", ("13.1.3",), _("Segregation in networks")),
    Section("security_requirements", ("14.1.1",), _("Information security requirements analysis and specification")),
    Section("development", ("14.2.1",), _("Secure development policy")),
    Section("suppliers", ("15.1.2",), _("Addressing security within supplier agreements")),
    Section("supply_chain", ("15.1.3", "CLD.13.1.4"), _("ICT supply chain")),
    Section("incidents", ("16.1.1",), _("Responsibilities and procedures for incidents")),
    Section("event_reporting", ("16.1.2",), _("Reporting information security events")),
    Section("evidence", ("16.1.7",), _("Collection of evidence")),
    Section("law", ("18.1.1",), _("Applicable legislation and contractual requirements")),
    Section("intellectual_property", ("18.1.2",), _("Intellectual property rights")),
    Section("records", ("18.1.3",), _("Protection of records")),
    Section("crypto_regulation", ("18.1.5",), _("Regulation of cryptographic controls")),
    Section("independent_review", ("18.2.1",), _("Independent review of information security")),
    Section("status", ("status",), _("Service status and availability")),
)

SECTION_KEYS = frozenset(section.key for section in SECTIONS)


def section(key: str) -> Section:
    for item in SECTIONS:
        if item.key == key:
            return item
    raise KeyError(key)
