"""The one mailer: every email to a customer (security notices, password-reset links,
notifications) leaves through `send_email`, with the mail settings (lumipay.settings.MailSettings).

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

from lumipay import settings
from lumipay.settings import MailSettings


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    body: str


def outbox(app: Flask) -> list[Email]:
    """The messages "sent" while `MAIL_CAPTURE` is on, oldest first."""
    sent: list[Email] = app.extensions.setdefault("lumipay_outbox", [])
    return sent


def send_email(to: str, subject: str, body: str) -> None:
    """Deliver one plain-text email; a delivery failure is logged, never raised to the caller."""
    mail = settings.mail()
    message = Email(to, subject, body)
    current_app.logger.info("email to %s: %s", to, subject)
    if mail.capture:
        outbox(current_app).append(message)
        return
    if not mail.smtp_host:
        print_to_console(message)
        return
    try:
        _send_smtp(mail, mail.smtp_host, message)
    except (OSError, smtplib.SMTPException):
        current_app.logger.exception("email to %s could not be sent", to)


def print_to_console(message: Email) -> None:
    """Development without SMTP: show the email (and its links) to the developer only."""
    sys.stderr.write(
        f"\n--- email to {message.to}: {message.subject} ---\n{message.body}\n--- end ---\n"
    )
    sys.stderr.flush()


def _send_smtp(mail: MailSettings, host: str, message: Email) -> None:
    email = EmailMessage()
    email["From"] = mail.sender
    email["To"] = message.to
    email["Subject"] = message.subject
    email.set_content(message.body)
    with smtplib.SMTP(host, mail.smtp_port, timeout=10) as smtp:
        if mail.smtp_starttls:
            smtp.starttls()
        if mail.smtp_username:
            smtp.login(mail.smtp_username, mail.smtp_password or "")
        smtp.send_message(email)
