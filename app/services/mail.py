"""Hand one email to the SMTP server: STARTTLS (or implicit TLS) with a verified certificate,
then AUTH, then the message. Says whether a failure is worth another try.

"Sent" means the server answered 250 to the message; everything else raises MailError.
"""
from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

TLS_MODES = ("starttls", "ssl", "none")


class MailError(Exception):
    """The server did not accept the message; `permanent` when retrying cannot help."""

    def __init__(self, reason: str, permanent: bool = False):
        super().__init__(reason)
        self.reason, self.permanent = reason, permanent


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send: from MAIL_* settings."""

    host: str
    port: int
    username: str = ""
    password: str = ""
    tls: str = "starttls"
    ca_file: str = ""
    timeout: float = 10.0
    sender: str = "Holdfast <no-reply@holdfast.invalid>"

    @classmethod
    def from_config(cls, cfg) -> SmtpSettings:
        """The settings of an app (host "" means: no mail server configured)."""
        return cls(cfg.get("MAIL_SERVER", ""), int(cfg.get("MAIL_PORT", 587)),
                   cfg.get("MAIL_USERNAME", ""), cfg.get("MAIL_PASSWORD", ""),
                   cfg.get("MAIL_TLS", "starttls"), cfg.get("MAIL_CA_FILE", ""),
                   float(cfg.get("MAIL_TIMEOUT", 10)), cfg.get("MAIL_FROM", cls.sender))


def compose(settings: SmtpSettings, to: str, subject: str, text: str,
            html: str | None) -> EmailMessage:
    """A multipart/alternative message: plain text first, HTML preferred by mail readers."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = settings.sender, to, subject
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    return message


def _tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    # Verified like a browser would: a mail server's certificate protects the password.
    return ssl.create_default_context(cafile=settings.ca_file or None)


def _refused(code: int, text: bytes | str) -> MailError:
    words = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    # 5xx is the server's final word (no such mailbox, policy); 4xx says "try again later".
    return MailError(f"{code} {words}".strip(), permanent=500 <= code < 600)


def send(settings: SmtpSettings, message: EmailMessage) -> None:
    """Deliver to the server or raise MailError; never returns without a 250."""
    try:
        if settings.tls == "ssl":
            smtp = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout,
                                    context=_tls_context(settings))
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        with smtp:
            smtp.ehlo()
            if settings.tls == "starttls":
                smtp.starttls(context=_tls_context(settings))
                smtp.ehlo()
            if settings.username:
                smtp.login(settings.username, settings.password)
            refused = smtp.send_message(message)
            if refused:  # some recipients refused; we send to one, so this is all of them
                code, text = next(iter(refused.values()))
                raise _refused(code, text)
    except smtplib.SMTPRecipientsRefused as exc:
        code, text = next(iter(exc.recipients.values()))
        raise _refused(code, text) from None
    except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
        raise _refused(exc.smtp_code, exc.smtp_error) from None
    except smtplib.SMTPAuthenticationError as exc:
        # Wrong credentials are the operator's to fix: keep retrying until the last try.
        raise MailError(f"authentication refused: {exc.smtp_code} "
                        f"{exc.smtp_error.decode(errors='replace')}") from None
    except smtplib.SMTPNotSupportedError as exc:
        raise MailError(f"server does not offer what we require: {exc}") from None
    except smtplib.SMTPResponseException as exc:
        raise _refused(exc.smtp_code, exc.smtp_error) from None
    except (smtplib.SMTPException, ssl.SSLError, OSError) as exc:
        raise MailError(f"{type(exc).__name__}: {exc}") from None
