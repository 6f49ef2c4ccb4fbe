from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "mamori.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from mamori.accounts import checks, signals  # noqa: F401
