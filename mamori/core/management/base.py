"""Helpers shared by Mamori's management commands (kept thin: parse, call an action, print)."""

from __future__ import annotations

import getpass
import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from mamori.audit.events import Actor

#: Exit code for bad input (argparse uses 2 for usage errors too).
EXIT_INVALID = 2


def cli_actor() -> Actor:
    """The system actor for commands, labelled with the operating-system user who ran it."""
    try:
        who = getpass.getuser()
    except (OSError, KeyError):  # no passwd entry (some containers)
        who = ""
    return Actor.system(f"cli ({who})" if who else "cli")


def invalid(message: str) -> CommandError:
    return CommandError(message, returncode=EXIT_INVALID)


def validation_failed(exc: ValidationError) -> CommandError:
    """A CommandError (exit 2) listing every field error of ``exc``, one per line."""
    if hasattr(exc, "error_dict"):
        lines = [
            f"{field}: {message}" if field != "__all__" else str(message)
            for field, messages in exc.message_dict.items()
            for message in messages
        ]
    else:
        lines = list(exc.messages)
    return invalid("Nothing was changed:\n  " + "\n  ".join(lines))


def dump_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, default=str)
