"""`mamori provider create-staff EMAIL`."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mamori.audit.models import ProviderEvent
from mamori.operations.models import ProviderStaff
from tests.cli.support import mamori_env, run_mamori

pytestmark = pytest.mark.django_db


def test_password_from_file(tmp_path):
    path = tmp_path / "pw"
    path.write_text("a long staff passphrase 42\n")
    out = StringIO()
    call_command("provider", "create-staff", "Ops@Provider.example", "--name", "Ops", "--role",
                 "security_officer", "--password-file", str(path), stdout=out)
    staff = ProviderStaff.objects.get()
    assert staff.email == "ops@provider.example" and staff.role == "security_officer" and staff.name == "Ops"
    assert staff.check_password("a long staff passphrase 42")
    assert "a long staff passphrase" not in out.getvalue()
    event = ProviderEvent.objects.get(action="provider.staff_created")
    assert event.actor_type == "system" and event.actor_label.startswith("cli")
    assert "password" not in (event.after or {})


def test_generated_password_when_not_a_terminal(monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    out = StringIO()
    call_command("provider", "create-staff", "gen@provider.example", stdout=out)
    password = re.search(r"shown once.*\n\s+(\S+)", out.getvalue()).group(1)
    assert len(password) >= 32
    assert ProviderStaff.objects.get().check_password(password)


def test_prompts_twice_on_a_terminal(monkeypatch):
    answers = iter(["terminal passphrase 123", "terminal passphrase 123"])
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    call_command("provider", "create-staff", "tty@provider.example", stdout=StringIO())
    assert ProviderStaff.objects.get().check_password("terminal passphrase 123")


def test_mismatched_prompts_write_nothing(monkeypatch):
    answers = iter(["terminal passphrase 123", "something else 456"])
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    with pytest.raises(CommandError) as excinfo:
        call_command("provider", "create-staff", "tty@provider.example", stdout=StringIO())
    assert excinfo.value.returncode == 2
    assert not ProviderStaff.objects.exists()


@pytest.mark.parametrize(("email", "password", "field"), [
    ("not-an-email", "a long staff passphrase 42", "email"),
    ("ok@provider.example", "short", "password"),
    ("ok@provider.example", "password123456", "password"),  # common password
])
def test_invalid_input_exits_2(tmp_path, email, password, field):
    path = tmp_path / "pw"
    path.write_text(password)
    with pytest.raises(CommandError) as excinfo:
        call_command("provider", "create-staff", email, "--password-file", str(path), stdout=StringIO())
    assert excinfo.value.returncode == 2 and field in str(excinfo.value)
    assert not ProviderStaff.objects.exists() and not ProviderEvent.objects.exists()


def test_duplicate_and_missing_file(tmp_path):
    path = tmp_path / "pw"
    path.write_text("a long staff passphrase 42")
    call_command("provider", "create-staff", "a@provider.example", "--password-file", str(path), stdout=StringIO())
    with pytest.raises(CommandError, match="email: "):
        call_command("provider", "create-staff", "A@provider.example", "--password-file", str(path),
                     stdout=StringIO())
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("provider", "create-staff", "b@provider.example", "--password-file",
                     str(tmp_path / "missing"), stdout=StringIO())


def test_subprocess_with_piped_stdin_generates_a_password(sqlite_data_dir):
    result = run_mamori("provider", "create-staff", "ops@provider.example", env=mamori_env(sqlite_data_dir),
                        input="")
    assert result.returncode == 0, result.stderr
    assert "Generated password" in result.stdout
