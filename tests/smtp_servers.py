"""Real SMTP servers for the tests (aiosmtpd on loopback): one that accepts (optionally only
over STARTTLS with AUTH, with a certificate made for it), one that refuses with a 550, and one
that drops the connection in the middle of the conversation."""
from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
from contextlib import contextmanager
from email import message_from_bytes, policy
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

USER, PASSWORD = "holdfast-mailer", "smtp-password-for-tests"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA): (cert file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "holdfast test smtp")])
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=3))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


class Inbox:
    """Records what the server accepted; refuses every recipient when `refuse` is set."""

    def __init__(self, refuse: str | None = None):
        self.refuse = refuse
        self.messages: list = []
        self.logins: list[str] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((envelope.rcpt_tos, message, session.authenticated))
        return "250 Message accepted for delivery"


def _authenticator(inbox: Inbox):
    def check(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and \
            (auth_data.login, auth_data.password) == (USER.encode(), PASSWORD.encode())
        inbox.logins.append(auth_data.login.decode() if ok else "refused")
        return AuthResult(success=ok)
    return check


@contextmanager
def smtp_server(inbox: Inbox, tls_files: tuple[Path, Path] | None = None):
    """Serve `inbox` on a free loopback port; with tls_files, only STARTTLS + AUTH."""
    port = free_port()
    options = {}
    if tls_files:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*map(str, tls_files))
        options = dict(tls_context=context, require_starttls=True, auth_required=True,
                       auth_require_tls=True, authenticator=_authenticator(inbox))
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@contextmanager
def dropping_server():
    """Greets like an SMTP server, then hangs up on the first command after EHLO."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"220 flaky.test ESMTP\r\n")
                conn.recv(1024)  # EHLO
                conn.sendall(b"250-flaky.test\r\n250 STARTTLS\r\n")
                conn.recv(1024)  # whatever comes next: the line goes dead

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        listener.close()
