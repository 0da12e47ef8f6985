"""Who may talk to the studio, and how much: the Host, Origin and token checks, and the body limit.

A studio on loopback is still reachable from every web page the person has open. Three checks,
as Jupyter's server makes them, keep those pages out:

- **Host** (DNS rebinding): a page on evil.example can point its own name at 127.0.0.1 and then
  read the studio as same-origin, but its requests still say ``Host: evil.example``. Only the
  loopback names, the address the studio is bound to and names allowed with ``--allow-host`` pass;
  bound beyond loopback, IP addresses and this machine's name pass too (a rebinding needs a name).
- **Origin** (cross-site requests): a page may POST a form to the studio without reading the
  answer; that still ran a projection. Requests that change something (POST, PUT, PATCH, DELETE)
  with an Origin other than the studio's own are refused. Clients that send no Origin (curl,
  scripts) pass, with the token when one is required. No CORS header is ever sent, so no other
  origin can read an answer either.
- **Token**: bound beyond loopback (or with ``--token``/``--require-token``) every request needs
  the token: ``?token=``, ``Authorization: token …`` (or ``Bearer``), or the cookie set when the
  page was opened with ``?token=`` (HttpOnly, SameSite=Lax, so other sites' requests do not carry it).

Refused requests get one line of JSON (401, 403), and the page a short HTML note. Bodies of
refused and oversized requests are read and dropped (up to a bound) before the answer: a server
that answers and closes while the client is still sending resets the connection, and the client
sees an error instead of the answer.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.exceptions import HTTPException

from ganvas.errors import GanvasError

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost", "ip6-loopback"})
DRAIN_LIMIT = 64 * 1024 * 1024         # bytes of an oversized or refused body read (and dropped) before answering


def is_loopback(host: str) -> bool:
    """Whether binding to `host` keeps the studio on this machine."""
    name = host.strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    """A token as Jupyter makes one: 48 hex digits from the system's secure random source."""
    return secrets.token_hex(24)


def check_token(token: str) -> str:
    if not token or any(c.isspace() for c in token) or len(token) > 256:
        raise GanvasError("--token must be 1 to 256 characters without spaces")
    return token


def _hostname(header: str) -> str | None:
    """The name in a Host header ('h', 'h:port', '[v6]:port'), lowercased, or None when malformed."""
    header = header.strip().lower()
    if header.startswith("["):
        end = header.find("]")
        rest = header[end + 1:] if end > 0 else ":x"
        if rest and not (rest.startswith(":") and rest[1:].isdigit()):
            return None
        return header[1:end]
    name, _, port = header.partition(":") if header.count(":") <= 1 else (header, "", "")
    if port and not port.isdigit():
        return None
    return name.rstrip(".") or None


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


def _netloc(scheme: str, netloc: str) -> str:
    """`netloc` lowercased, without the scheme's default port (browsers leave it out of Origin)."""
    netloc = netloc.lower()
    default = {"http": ":80", "https": ":443"}.get(scheme)
    return netloc[: -len(default)] if default and netloc.endswith(default) else netloc


@dataclass
class Guard:
    """The checks for a studio bound to `bind`; `token` None means none is asked for."""

    bind: str = "127.0.0.1"                                 # the address the server listens on
    token: str | None = field(default=None, repr=False)     # required on every request when set
    allow_hosts: Iterable[str] = ()                         # more names for the Host header ('*': any)
    hosts: set[str] = field(init=False)                     # the names allowed
    remote: bool = field(init=False)                        # bound beyond loopback
    cookie: str | None = field(init=False, repr=False)      # the cookie's value: derived from the token

    def __post_init__(self) -> None:
        self.allow_hosts = tuple(h.strip().lower().rstrip(".") for h in self.allow_hosts if h.strip())
        bind = self.bind.strip("[]").lower()
        self.remote = not is_loopback(bind)
        self.hosts = {"localhost", "127.0.0.1", "::1", *self.allow_hosts}
        if bind and bind not in ("0.0.0.0", "::"):
            self.hosts.add(bind)
        if self.remote:
            self.hosts.add(socket.gethostname().lower())
        self.cookie = None
        if self.token is not None:
            check_token(self.token)
            self.cookie = hmac.new(self.token.encode(), b"ganvas-studio-cookie", hashlib.sha256).hexdigest()

    # --- the checks ---------------------------------------------------------------------------------

    def host_ok(self, header: str | None) -> bool:
        if "*" in self.hosts:
            return True
        name = _hostname(header or "")
        if name is None:
            return False
        if name in self.hosts:
            return True
        try:
            ip = ipaddress.ip_address(name)
        except ValueError:
            return False
        return ip.is_loopback or self.remote

    def origin_ok(self, origin: str | None, host: str, sec_fetch_site: str | None) -> bool:
        """Same-origin or no Origin at all (a non-browser client); a browser's cross-site request never passes."""
        if origin is None:
            return sec_fetch_site in (None, "same-origin", "none")
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return False                                    # 'null' (sandboxed frames, file:) included
        return _netloc(parts.scheme, parts.netloc) == _netloc(parts.scheme, host)

    def token_ok(self, given: str | None) -> bool:
        return self.token is not None and given is not None and secrets.compare_digest(given.encode(),
                                                                                        self.token.encode())

    def cookie_name(self, scope: dict) -> str:
        port = (scope.get("server") or ("", 0))[1]
        return f"ganvas-studio-{port}"                      # cookies ignore ports: one studio per port

    def authorised(self, scope: dict, headers: dict[str, str], query: dict[str, str]) -> bool:
        if self.token is None:
            return True
        if self.token_ok(query.get("token")):
            return True
        kind, _, value = headers.get("authorization", "").partition(" ")
        if kind.lower() in ("token", "bearer") and self.token_ok(value.strip()):
            return True
        for part in headers.get("cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == self.cookie_name(scope) and secrets.compare_digest(value.encode(), self.cookie.encode()):
                return True
        return False


class Checks:
    """ASGI middleware applying a Guard to every HTTP request."""

    def __init__(self, app: Any, guard: Guard, drain_limit: int = DRAIN_LIMIT) -> None:
        self.app, self.guard, self.drain_limit = app, guard, drain_limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        g = self.guard
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        host = headers.get("host", "")
        if not g.host_ok(host):
            shown = host[:80].encode("ascii", "replace").decode()
            return await refuse(scope, receive, send, 403, f"Host {shown!r} is not allowed: open the studio by the "
                                f"address it printed, or start it with --allow-host NAME", self.drain_limit)
        if scope["method"] in UNSAFE and not g.origin_ok(headers.get("origin"), host, headers.get("sec-fetch-site")):
            shown = headers.get("origin", headers.get("sec-fetch-site", ""))[:80]
            return await refuse(scope, receive, send, 403, f"cross-origin {scope['method']} from {shown!r} refused: "
                                "the studio only takes changes from its own page", self.drain_limit)
        if not g.authorised(scope, headers, query):
            return await refuse(scope, receive, send, 401, "this studio needs its token: open the URL that "
                                "`ganvas studio` printed (…/?token=…), or send 'Authorization: token …'",
                                self.drain_limit)
        if g.token is not None and "token" in query and scope["method"] == "GET" and scope["path"] == "/":
            # the page opened with ?token=: keep it in a cookie and take it out of the address bar
            rest = urlencode([(k, v) for k, v in parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                                                           keep_blank_values=True) if k != "token"])
            cookie = f"{g.cookie_name(scope)}={g.cookie}; Path=/; HttpOnly; SameSite=Lax"
            await send({"type": "http.response.start", "status": 303, "headers": [
                (b"location", ("/" + (f"?{rest}" if rest else "")).encode()), (b"set-cookie", cookie.encode()),
                (b"cache-control", b"no-store"), (b"referrer-policy", b"no-referrer"), (b"content-length", b"0")]})
            return await send({"type": "http.response.body", "body": b""})
        return await self.app(scope, receive, send)


LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ganvas studio: token needed</title></head>
<body><h1>This studio needs its token</h1>
<p>Open the address <code>ganvas studio</code> printed when it started (it ends in <code>/?token=…</code>),
or paste the token here.</p>
<form method="get" action="/"><label>Token <input name="token" type="password" autocomplete="off"></label>
<button>Open</button></form></body></html>
"""


async def drain(receive: Any, limit: int, seen: int = 0) -> bool:
    """Read the rest of a request body and drop it (at most `limit` bytes); False when it was longer."""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return True
        seen += len(message.get("body", b""))
        if not message.get("more_body", False):
            return True
        if seen > limit:
            return False


def _expects_continue(scope: dict) -> bool:
    return any(k.lower() == b"expect" and v.lower() == b"100-continue" for k, v in scope.get("headers") or [])


async def refuse(scope: dict, receive: Any, send: Any, status: int, message: str, drain_limit: int) -> None:
    """Answer one line of JSON (the page: a note), after dropping the body the client may still be sending."""
    if scope["method"] not in ("GET", "HEAD") and not _expects_continue(scope):
        await drain(receive, drain_limit)
    page = status == 401 and scope["path"] == "/" and scope["method"] == "GET"
    body = LOGIN_PAGE.encode() if page else _error_body(status, message)
    ctype = b"text/html; charset=utf-8" if page else b"application/json"
    headers = [(b"content-type", ctype), (b"content-length", str(len(body)).encode()), (b"cache-control", b"no-store"),
               (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
    if page:
        headers.append((b"content-security-policy", b"default-src 'none'; form-action 'self'; frame-ancestors 'none'"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class TooLarge(HTTPException):
    """A body past the limit (413). An HTTPException, so FastAPI's body parsing passes it on untouched."""


class BodyLimit:
    """Refuse request bodies over `limit` bytes with a readable 413, by Content-Length or while they stream in."""

    def __init__(self, app: Any, limit: int, drain_limit: int = DRAIN_LIMIT) -> None:
        self.app, self.limit, self.drain_limit = app, limit, drain_limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            message = f"request body of {int(length)} bytes is larger than the limit of {self.limit} bytes"
            if not _expects_continue(scope):          # else the client waits for our answer before sending
                await drain(receive, self.drain_limit)
            return await _json(send, 413, message)
        seen = 0
        started = False

        async def limited_receive() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    if message.get("more_body", False):
                        await drain(receive, self.drain_limit, seen)
                    raise TooLarge(413, f"request body is larger than the limit of {self.limit} bytes")
            return message

        async def tracking_send(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except TooLarge as exc:
            if not started:
                await _json(send, 413, str(exc.detail))


async def _json(send: Any, status: int, message: str) -> None:
    body = _error_body(status, message)
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff")]})
    await send({"type": "http.response.body", "body": body})


def _error_body(status: int, message: str) -> bytes:
    return json.dumps({"error": message, "status": status}, separators=(",", ":")).encode()
