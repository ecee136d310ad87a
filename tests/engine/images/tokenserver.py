"""A small token service for the registry's ``token`` auth (run as a subprocess).

    python tokenserver.py KEY.pem CERT.pem ISSUER SERVICE USER:PASSWORD PORTFILE

Grants every requested action to USER (Basic auth) and ``pull`` to anonymous callers.
Tokens are JWTs signed RS256 with KEY, carrying CERT in ``x5c``.
"""

from __future__ import annotations

import base64
import json
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main() -> None:
    key_path, cert_path, issuer, service, user, port_file = sys.argv[1:7]
    key = serialization.load_pem_private_key(Path(key_path).read_bytes(), password=None)
    cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
    cert_der = cert.public_bytes(serialization.Encoding.DER)
    expected = "Basic " + base64.b64encode(user.encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            query = parse_qs(urlparse(self.path).query)
            header = self.headers.get("Authorization")
            if header is not None and header != expected:
                self.send_response(401)
                self.end_headers()
                return
            access = []
            for scope in query.get("scope", []):
                kind, name, actions = scope.split(":")
                granted = (
                    actions.split(",") if header else [a for a in actions.split(",") if a == "pull"]
                )
                access.append({"type": kind, "name": name, "actions": granted})
            now = int(time.time())
            claims = {
                "iss": issuer,
                "sub": user.split(":")[0] if header else "",
                "aud": query.get("service", [service])[0],
                "exp": now + 300,
                "nbf": now - 10,
                "iat": now,
                "jti": uuid.uuid4().hex,
                "access": access,
            }
            head = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(cert_der).decode()]}
            signing_input = (
                f"{b64url(json.dumps(head).encode())}.{b64url(json.dumps(claims).encode())}"
            )
            signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
            body = json.dumps({"token": f"{signing_input}.{b64url(signature)}"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Path(port_file).write_text(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    main()
