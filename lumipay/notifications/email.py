"""Emails to customers: security notices and password-reset links.

With `SMTP_HOST` set each message is sent over SMTP (STARTTLS unless `SMTP_STARTTLS=false`);
production refuses to start without it. In development without it the message is printed to the
console (stderr), never to the JSON logs: bodies carry reset links and one-time codes. Only the
recipient and subject are logged. With `MAIL_CAPTURE` (tests) it is appended to `outbox(app)`
instead. Callers send only after their transaction has committed.
"""

from __future__ import annotations

import smtplib
import sys
from dataclasses import dataclass
from email.message import EmailMessage

from flask import Flask, current_app


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    body: str


def outbox(app: Flask) -> list[Email]:
    """The messages "sent" while `MAIL_CAPTURE` is on, oldest first."""
    return app.extensions.setdefault("lumipay_outbox", [])


def send_email(to: str, subject: str, body: str) -> None:
    """Deliver one plain-text email; a delivery failure is logged, never raised to the caller."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    message = Email(to, subject, body)
    app.logger.info("email to %s: %s", to, subject)
    if app.config.get("MAIL_CAPTURE"):
        outbox(app).append(message)
        return
    if not app.config.get("SMTP_HOST"):
        print_to_console(message)
        return
    try:
        _send_smtp(app, message)
    except (OSError, smtplib.SMTPException):
        app.logger.exception("email to %s could not be sent", to)


def print_to_console(message: Email) -> None:
    """Development without SMTP: show the email (and its links) to the developer only."""
    sys.stderr.write(
        f"\n--- email to {message.to}: {message.subject} ---\n{message.body}\n--- end ---\n"
    )
    sys.stderr.flush()


def _send_smtp(app: Flask, message: Email) -> None:
    email = EmailMessage()
    email["From"] = app.config["MAIL_FROM"]
    email["To"] = message.to
    email["Subject"] = message.subject
    email.set_content(message.body)
    with smtplib.SMTP(app.config["SMTP_HOST"], app.config["SMTP_PORT"], timeout=10) as smtp:
        if app.config.get("SMTP_STARTTLS"):
            smtp.starttls()
        if app.config.get("SMTP_USERNAME"):
            smtp.login(app.config["SMTP_USERNAME"], app.config["SMTP_PASSWORD"] or "")
        smtp.send_message(email)
