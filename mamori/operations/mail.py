"""Embedded-default mail backend: messages go to a local outbox and the log."""

from __future__ import annotations

import logging

from django.core.mail.backends.base import BaseEmailBackend

logger = logging.getLogger("mamori.mail")


class OutboxEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        from mamori.operations.models import OutboxMessage

        sent = 0
        for message in email_messages:
            html = ""
            for alternative in getattr(message, "alternatives", []) or []:
                content, mimetype = alternative[0], alternative[1]
                if mimetype == "text/html":
                    html = content
            OutboxMessage.objects.create(
                from_email=message.from_email,
                to=", ".join(message.to + message.cc + message.bcc),
                subject=message.subject,
                body=message.body,
                html_body=html,
                raw=message.message().as_string(),
            )
            logger.info("mail to %s: %s", ", ".join(message.to), message.subject)
            sent += 1
        return sent
