"""Embedded-default mail backend: messages go to a local outbox and the log.

Used when no SMTP server is configured (``MAMORI_EMAIL_HOST`` unset). Every
message is stored in ``OutboxMessage`` — readable by provider staff in the
provider console at ``/provider/outbox/``, each reading recorded in the provider
log — and announced in the server log (logger ``mamori.mail``):

- development profile: the whole text body is printed, so a developer can click
  the invitation, password-reset or sign-in link straight from the terminal;
- production profile: only the recipients, the subject and the outbox id. Those
  mails carry one-time secrets (anyone holding the link can take over the
  account), and server logs are shipped, kept and read far more widely than the
  outbox, whose every reading is audited.

``OUTBOX_LOG_BODY = True/False`` in the settings overrides the profile's choice.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend

logger = logging.getLogger("mamori.mail")


def log_bodies() -> bool:
    configured = getattr(settings, "OUTBOX_LOG_BODY", None)
    if configured is not None:
        return bool(configured)
    return getattr(settings, "PROFILE", "production") == "development"


class OutboxEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        from mamori.operations.models import OutboxMessage

        sent = 0
        with_body = log_bodies()
        for message in email_messages:
            html = ""
            for alternative in getattr(message, "alternatives", []) or []:
                content, mimetype = alternative[0], alternative[1]
                if mimetype == "text/html":
                    html = content
            stored = OutboxMessage.objects.create(
                from_email=message.from_email,
                to=", ".join(message.to + message.cc + message.bcc),
                subject=message.subject,
                body=message.body,
                html_body=html,
                raw=message.message().as_string(),
            )
            recipients = ", ".join(message.to + message.cc + message.bcc)
            if with_body:
                logger.info("mail to %s: %s (outbox #%s)\n%s", recipients, message.subject, stored.pk, message.body)
            else:
                logger.info("mail to %s: %s (outbox #%s; body not logged in production, "
                            "read it in the provider console)", recipients, message.subject, stored.pk)
            sent += 1
        return sent
