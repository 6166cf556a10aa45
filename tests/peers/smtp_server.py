"""An SMTP server for manager/tests/playbook_smtp.rs: aiosmtpd on loopback, STARTTLS required
(no MAIL before it), AUTH PLAIN and LOGIN over TLS only, one user. Each message received is
written as JSON (envelope, the raw message, the user who authenticated) to OUT_DIR/N.json.

Usage: smtp_server.py PORT CERT KEY OUT_DIR USER PASSWORD; prints "ready" once listening and
stops when its standard input closes.
"""
import json
import os
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, cert, key, out_dir, user, password = sys.argv[1:7]
ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
logins = []


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == user.encode()
        and auth_data.password == password.encode()
    )
    if ok:
        logins.append((mechanism, auth_data.login.decode()))
    return AuthResult(success=ok, handled=False)


class Handler:
    async def handle_DATA(self, server, session, envelope):
        n = len(os.listdir(out_dir))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "content": envelope.original_content.decode("utf-8", "replace"),
            "tls": server._tls_protocol is not None,
            "login": logins[-1] if logins else None,
        }
        tmp = os.path.join(out_dir, f".{n}.tmp")
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(out_dir, f"{n}.json"))
        return "250 Message accepted"


controller = Controller(
    Handler(),
    hostname="127.0.0.1",
    port=int(port),
    tls_context=ctx,
    require_starttls=True,
    authenticator=authenticate,
    auth_require_tls=True,
)
controller.start()
print("ready", flush=True)
sys.stdin.read()
controller.stop()
