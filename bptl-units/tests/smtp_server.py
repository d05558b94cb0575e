"""A real SMTP server for the send_email tests (aiosmtpd): STARTTLS required before AUTH
(MODE starttls, the default) or TLS from the first byte (MODE tls), one login accepted.
Prints {"ready": PORT} once it listens, then one JSON line per message it received: the
envelope, whether it came over TLS, and the parsed message (headers, text and HTML parts,
attachments in base64).

Usage: smtp_server.py PORT CERT_PEM KEY_PEM USER PASSWORD [MODE]
"""

import base64
import email
import email.policy
import json
import ssl
import sys
import time
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, cert, key, user, password = sys.argv[1:6]
mode = sys.argv[6] if len(sys.argv) > 6 else "starttls"

context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == user.encode()
        and auth_data.password == password.encode()
    )
    return AuthResult(success=ok, handled=False)


class Handler:
    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = html = None
        attachments = []
        for part in message.walk():
            if part.is_multipart():
                continue
            if part.get_content_disposition() == "attachment":
                attachments.append(
                    {
                        "filename": part.get_filename(),
                        "content_type": part.get_content_type(),
                        "content": base64.b64encode(part.get_payload(decode=True)).decode(),
                    }
                )
            elif part.get_content_type() == "text/plain":
                text = part.get_content().replace("\r\n", "\n")
            elif part.get_content_type() == "text/html":
                html = part.get_content().replace("\r\n", "\n")
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": session.ssl is not None
            or server.transport.get_extra_info("ssl_object") is not None,
            "authenticated": session.authenticated,
            "subject": message["subject"],
            "from": message["from"],
            "to": message["to"],
            "cc": message["cc"],
            "bcc": message["bcc"],
            "message_id": message["message-id"],
            "text": text,
            "html": html,
            "attachments": attachments,
        }
        print(json.dumps(record), flush=True)
        return "250 Message accepted for delivery"


if mode == "tls":
    # TLS from the first byte: the connection is encrypted before any command.
    security = dict(ssl_context=context, auth_require_tls=False)
    # aiosmtpd does not see that an implicit-TLS connection is encrypted already.
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
else:
    security = dict(tls_context=context, require_starttls=True)
controller = Controller(
    Handler(),
    hostname="127.0.0.1",
    port=int(port),
    authenticator=authenticate,
    auth_required=True,
    **security,
)
controller.start()
print(json.dumps({"ready": controller.port}), flush=True)
try:
    # Until the test closes stdin (or kills the process).
    sys.stdin.read()
finally:
    controller.stop()
