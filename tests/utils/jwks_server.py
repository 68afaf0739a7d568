"""A stand-in for an issuer's key set (Auth0's `/.well-known/jwks.json`), a real HTTP server on a thread."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.utils.tokens import PROD_AUDIENCE, PROD_ISSUER, jwks_document, new_rsa_key

JWKS_PATH = "/.well-known/jwks.json"


class JwksServer:
    """A stand-in for an issuer's key set: a real HTTP server on 127.0.0.1 serving `/.well-known/jwks.json`
    as Auth0 does, counting the fetches. What it serves is the test's: the JWKS of `keys` (or a fixed
    `document`), or a status, a body, a redirect, bytes dripped one at a time. `tenant()` is an Auth0
    tenant's: one signing key, and `mint()` signs tokens with it."""

    def __init__(self, port: int = 0, *, document: dict | None = None):
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.fixed_document = document
        self.status = 200
        self.body: bytes | None = None  # None: serve the JWKS of self.keys
        self.location: str | None = None  # a Location header (with status 302, a redirect)
        self.content_length = True  # False: no Content-Length, the body ends when the connection closes
        self.drip: float | None = None  # send the body one byte every `drip` seconds
        self.drip_headers = False  # drip the status line and headers too
        self.fetches = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the name http.server dispatches to
                if self.path != JWKS_PATH:
                    self.send_error(404)
                    return
                server.fetches += 1
                body = server.body if server.body is not None else json.dumps(server.document()).encode()
                if server.drip_headers:
                    head = (f"HTTP/1.0 {server.status} OK\r\nContent-Type: application/json\r\n"
                            f"Content-Length: {len(body)}\r\n\r\n").encode()
                    server.trickle(self.wfile, head + body)
                    return
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                if server.content_length:
                    self.send_header("Content-Length", str(len(body)))
                if server.location:
                    self.send_header("Location", server.location)
                self.end_headers()
                if server.drip:
                    server.trickle(self.wfile, body)
                else:
                    self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}{JWKS_PATH}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.running = True

    @classmethod
    def tenant(cls) -> JwksServer:
        server = cls()
        server.kid = f"test-{uuid.uuid4().hex[:8]}"
        server.key = server.keys[server.kid] = new_rsa_key()
        return server

    def mint(self, permissions: list[str], issuer: str = PROD_ISSUER, audience: str = PROD_AUDIENCE,
             **claims) -> str:
        """A token of the tenant (`tenant()`), valid for 10 minutes, for a new subject."""
        now = int(time.time())
        payload = {"iss": issuer, "aud": audience, "sub": f"auth0|{uuid.uuid4().hex}", "iat": now,
                   "exp": now + 600, "permissions": permissions, **claims}
        return jwt.encode(payload, self.key, algorithm="RS256", headers={"kid": self.kid})

    def document(self) -> dict:
        return self.fixed_document if self.fixed_document is not None else jwks_document(self.keys)

    def trickle(self, out, data: bytes) -> None:
        """Send `data` a byte at a time, until it is all sent, the client hangs up or the server stops."""
        for i in range(len(data)):
            if not self.running:
                return
            try:
                out.write(data[i:i + 1])
            except OSError:
                return
            time.sleep(self.drip)

    def stop(self) -> None:
        if self.running:
            self.running = False
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(timeout=5)
