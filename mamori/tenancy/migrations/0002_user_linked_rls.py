"""Forced row-level security on django-allauth's user-owned tables (see USER_LINKED_TABLES)."""

from django.db import migrations

from mamori.tenancy.rls import USER_LINKED_TABLES, EnableUserLinkedRLS


class Migration(migrations.Migration):
    dependencies = [
        ("tenancy", "0001_initial"),
        ("accounts", "0002_invitations_password_policy"),
        ("mfa", "0003_authenticator_type_uniq"),
        ("usersessions", "0001_initial"),
        ("socialaccount", "0006_alter_socialaccount_extra_data"),
    ]

    operations = [EnableUserLinkedRLS(table, column) for table, column in USER_LINKED_TABLES.items()]
