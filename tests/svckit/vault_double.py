"""A Vault-API double: a real HTTP server on loopback speaking the parts of Vault's API that
`hvac` calls for us (KV v2 read, token lookup-self and renew-self, AppRole and Kubernetes
login), with Vault's status codes and `{"errors": [...]}` bodies.

Tokens expire on the double's `clock` (the tests share a fake one with the source under test),
so expiry and renewal are driven without sleeping. `requests` records every call's method and
path for assertions; `sealed` makes every call answer 503 like a sealed Vault; `gate` holds
every answer until the test opens it (a slow Vault, without timing).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Token:
    ttl: float  # 0: never expires (a root token)
    renewable: bool
    expires_at: float | None


@dataclass
class VaultState:
    clock: Callable[[], float]
    secrets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    versions: dict[tuple[str, str], int] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    approles: dict[str, str] = field(default_factory=dict)  # role id -> secret id
    kubernetes_roles: dict[str, str] = field(default_factory=dict)  # role -> accepted jwt
    login_ttl: float = 60.0
    login_renewable: bool = True
    sealed: bool = False
    # When set, every request waits for the event before it is answered (a slow Vault).
    gate: threading.Event | None = None
    requests: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def put(self, mount: str, path: str, data: dict[str, Any]) -> None:
        """Write a new version of the secret (a rotation)."""
        with self.lock:
            self.secrets[(mount, path)] = dict(data)
            self.versions[(mount, path)] = self.versions.get((mount, path), 0) + 1

    def issue_token(self, ttl: float, *, renewable: bool = True) -> str:
        token = f"hvs.{uuid.uuid4().hex}"
        expires = None if ttl <= 0 else self.clock() + ttl
        self.tokens[token] = Token(ttl, renewable, expires)
        return token

    def revoke(self, token: str) -> None:
        self.tokens.pop(token, None)

    def valid(self, token: str | None) -> Token | None:
        found = self.tokens.get(token or "")
        if found is None or (found.expires_at is not None and self.clock() >= found.expires_at):
            return None
        return found

    def calls(self, path: str) -> int:
        return sum(1 for _, seen in self.requests if seen.startswith(path))


class VaultHandler(BaseHTTPRequestHandler):
    state: VaultState  # set on the subclass made per server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test output is not the place for an access log."""

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        state = self.state
        if state.gate is not None:
            state.gate.wait()
        with state.lock:
            state.requests.append((method, path))
            if state.sealed:
                self._answer(503, {"errors": ["Vault is sealed"]})
                return
            body = self._body()
            status, payload = self._route(method, path, body)
        self._answer(status, payload)

    def _route(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        state = self.state
        if method == "POST" and path.endswith("/login"):
            return self._login(path.removeprefix("/v1/auth/").removesuffix("/login"), body)
        token = state.valid(self.headers.get("X-Vault-Token"))
        if token is None:
            return 403, {"errors": ["permission denied"]}
        if method == "GET" and path == "/v1/auth/token/lookup-self":
            remaining = 0 if token.expires_at is None else round(token.expires_at - state.clock())
            return 200, {"data": {"ttl": remaining, "renewable": token.renewable}}
        if method == "POST" and path == "/v1/auth/token/renew-self":
            return self._renew(token)
        if method == "GET" and "/data/" in path:
            mount, secret_path = path.removeprefix("/v1/").split("/data/", 1)
            return self._read(mount, secret_path)
        return 404, {"errors": []}

    def _login(self, mount: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        state = self.state
        if mount == "approle":
            if state.approles.get(body.get("role_id", "")) != body.get("secret_id"):
                return 400, {"errors": ["invalid role or secret ID"]}
        elif mount == "kubernetes":
            if state.kubernetes_roles.get(body.get("role", "")) != body.get("jwt"):
                return 403, {"errors": ["permission denied"]}
        else:
            return 404, {"errors": [f"no handler for route 'auth/{mount}/login'"]}
        token = state.issue_token(state.login_ttl, renewable=state.login_renewable)
        return 200, {"auth": self._auth(token, state.tokens[token])}

    def _renew(self, token: Token) -> tuple[int, dict[str, Any]]:
        if not token.renewable:
            return 400, {"errors": ["lease is not renewable"]}
        if token.ttl > 0:
            token.expires_at = self.state.clock() + token.ttl
        name = self.headers.get("X-Vault-Token") or ""
        return 200, {"auth": self._auth(name, token)}

    def _read(self, mount: str, path: str) -> tuple[int, dict[str, Any]]:
        data = self.state.secrets.get((mount, path))
        if data is None:
            return 404, {"errors": []}
        version = self.state.versions[(mount, path)]
        metadata = {"version": version, "deletion_time": "", "destroyed": False}
        return 200, {"data": {"data": data, "metadata": metadata}}

    @staticmethod
    def _auth(name: str, token: Token) -> dict[str, Any]:
        return {
            "client_token": name,
            "lease_duration": int(token.ttl),
            "renewable": token.renewable,
        }

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if not length:
            return {}
        parsed: dict[str, Any] = json.loads(self.rfile.read(length))
        return parsed

    def _answer(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@contextmanager
def serving_vault(state: VaultState) -> Iterator[str]:
    """Serve `state` on a loopback port; yields the address (`http://127.0.0.1:<port>`)."""
    handler = type("BoundVaultHandler", (VaultHandler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
