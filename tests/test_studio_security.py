"""Who may talk to the studio: Host and Origin checks, the token, no CORS, readable refusals of big bodies.

Most of it runs against real `ganvas studio` processes (ganvas.studio.launch), since what matters is
what a browser or curl meets on the socket: one on loopback as a person starts it, one bound to
0.0.0.0 that asks for the token it prints. The checks themselves are also tested as functions.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import queue
import re
import socket
import subprocess
import threading
from pathlib import Path

import pytest
from conftest import REPO
from fastapi.testclient import TestClient
from PIL import Image

from ganvas.errors import GanvasError
from ganvas.studio.guard import Guard, check_token, is_loopback, new_token
from ganvas.studio.launch import StudioDidNotStart, running_studio

LIMIT_MB = 0.5                                  # the live server's --max-upload-mb
LIMIT = int(LIMIT_MB * 1024 * 1024)


def png(colour=(250, 200, 40)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (24, 24), colour).save(buf, format="PNG")
    return buf.getvalue()


def multipart(data: bytes, name: str = "me.png") -> tuple[bytes, str]:
    """A browser form's body: what <form enctype="multipart/form-data"> on any web page can send."""
    boundary = "----ganvasprobe7MA4YWxkTrZu0gW"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


class Answer:
    def __init__(self, r: http.client.HTTPResponse) -> None:
        self.status, self.headers, self.body = r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()

    def json(self):
        return json.loads(self.body)


def ask(url: str, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
        chunked: bool = False) -> Answer:
    """One request on a fresh connection, with exactly the headers given (Host included when given)."""
    port = int(url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        headers = dict(headers or {})
        conn.putrequest(method, path, skip_host="Host" in headers, skip_accept_encoding=True)
        for k, v in headers.items():
            conn.putheader(k, v)
        if body is not None and not chunked:
            conn.putheader("Content-Length", str(len(body)))
        if chunked:
            conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        if body is not None:
            if chunked:
                for i in range(0, len(body), 64 * 1024):
                    part = body[i:i + 64 * 1024]
                    conn.send(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                conn.send(b"0\r\n\r\n")
            else:
                conn.send(body)
        return Answer(conn.getresponse())
    finally:
        conn.close()


@contextlib.contextmanager
def studio_process(runs: Path, tmp: Path, args=(), token: str | None = None, stdout=None):
    log = tmp / "studio.log"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with open(log, "w") as out, contextlib.ExitStack() as stack:
        try:
            yield stack.enter_context(running_studio(runs, env=env, stdout=stdout or out, cwd=REPO, args=args,
                                                     token=token))
        except StudioDidNotStart as exc:
            raise AssertionError(f"{exc}: {log.read_text()}") from None


@pytest.fixture(scope="module")
def loopback(studio_runs: Path, tmp_path_factory) -> str:
    """`ganvas studio RUNS` as a person starts it (127.0.0.1, no token), with a small body limit."""
    with studio_process(studio_runs, tmp_path_factory.mktemp("loopback"), ["--max-upload-mb", str(LIMIT_MB)]) as (
            url, _):
        yield url


# --- DNS rebinding and cross-site requests, on the live server ---------------------------------------------


def test_a_foreign_host_header_is_refused_on_loopback(loopback: str) -> None:
    port = loopback.rsplit(":", 1)[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"):
        assert ask(loopback, "GET", "/api/models", headers={"Host": host}).status == 200, host
    # a page on evil.example whose name now points at 127.0.0.1 reads the studio as its own origin
    for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1.evil.example:{port}", f"192.168.1.20:{port}"):
        r = ask(loopback, "GET", "/api/models", headers={"Host": host})
        assert r.status == 403, (host, r.body)
        assert "is not allowed" in r.json()["error"] and "--allow-host" in r.json()["error"]
        assert b"emoji-dcgan" not in r.body
    r = ask(loopback, "POST", "/api/models/emoji-dcgan/render", json.dumps({"seed": 1}).encode(),
            {"Host": f"evil.example:{port}", "Content-Type": "application/json"})
    assert r.status == 403


def test_a_cross_origin_multipart_post_cannot_start_a_projection(loopback: str) -> None:
    """The probe ran a projection from another origin with a plain form POST: now refused, before any work."""
    port = loopback.rsplit(":", 1)[1]
    body, ctype = multipart(png())
    path = "/api/models/emoji-dcgan/project?steps=2&wait=true"
    for origin in ("http://evil.example", f"http://localhost:{int(port) + 1}", "null", "http://127.0.0.1"):
        r = ask(loopback, "POST", path, body, {"Content-Type": ctype, "Origin": origin})
        assert r.status == 403, (origin, r.body)
        assert "cross-origin POST" in r.json()["error"] and "access-control-allow-origin" not in r.headers
    # a browser that leaves Origin out still says where the request came from
    r = ask(loopback, "POST", path, body, {"Content-Type": ctype, "Sec-Fetch-Site": "cross-site"})
    assert r.status == 403
    assert ask(loopback, "DELETE", "/api/jobs/anything", headers={"Origin": "http://evil.example"}).status == 403
    health = ask(loopback, "GET", "/api/health").json()
    assert health["projections_running"] == 0
    # the same form from the studio's own page works, and so does curl (no Origin)
    for headers in ({"Origin": f"http://127.0.0.1:{port}"}, {}):
        r = ask(loopback, "POST", path, body, {"Content-Type": ctype, **headers})
        assert r.status == 200 and r.json()["state"] == "done", r.body


def test_no_cors_headers_are_ever_sent(loopback: str) -> None:
    preflight = ask(loopback, "OPTIONS", "/api/models/emoji-dcgan/render",
                    headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST",
                             "Access-Control-Request-Headers": "content-type"})
    got = ask(loopback, "GET", "/api/models", headers={"Origin": "http://evil.example"})
    for r in (preflight, got):
        assert not [k for k in r.headers if k.startswith("access-control-")], r.headers
    assert preflight.status >= 400 and got.status == 200


# --- bodies over the limit: a readable 413, not a reset connection -------------------------------------------


@pytest.mark.parametrize("how", ["declared", "chunked", "upload", "upload-chunked"])
def test_a_body_over_the_limit_gets_a_readable_413(loopback: str, how: str) -> None:
    """Any body past the limit, declared or streamed (chunked), JSON or an upload: a 413 the client can read.

    Streamed ones were a 400 ("error parsing the body") or a 500 (an ExceptionGroup) before; the rest
    of a refused body is read and dropped before answering, so the client is not reset mid-send.
    """
    if how.startswith("upload"):    # past the upload limit (but inside the request limit: the handler refuses it)
        r = ask(loopback, "POST", "/api/models/emoji-dcgan/project", b"\x89PNG" + b"\0" * (LIMIT + 16 * 1024),
                {"Content-Type": "image/png"}, chunked=how == "upload-chunked")
        needle = f"larger than the limit of {LIMIT} bytes"
    else:
        body = json.dumps({"seed": 1, "pad": "x" * (8 * LIMIT)}).encode()
        r = ask(loopback, "POST", "/api/models/emoji-dcgan/render", body, {"Content-Type": "application/json"},
                chunked=how == "chunked")
        needle = "larger than the limit of"
    assert r.status == 413, r.body
    assert r.headers["content-type"] == "application/json" and needle in r.json()["error"]
    assert ask(loopback, "GET", "/api/health").status == 200                          # still serving


# --- the token, on a live server bound beyond loopback ----------------------------------------------------


def _lines(stream, into: queue.Queue) -> None:
    for line in iter(stream.readline, b""):
        into.put(line.decode("utf-8", "replace"))


@pytest.fixture(scope="module")
def exposed(studio_runs: Path, tmp_path_factory):
    """`ganvas studio RUNS --host 0.0.0.0`: its URL and the token it printed (read from its output pipe)."""
    lines: queue.Queue = queue.Queue()
    with studio_process(studio_runs, tmp_path_factory.mktemp("exposed"), ["--host", "0.0.0.0"],
                        stdout=subprocess.PIPE) as (url, proc):
        threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True).start()
        printed = []
        while not any("127.0.0.1" in ln and "token=" in ln for ln in printed):
            printed.append(lines.get(timeout=60))
        yield url, printed


def test_bound_beyond_loopback_it_prints_a_token_url_and_asks_for_it(exposed) -> None:
    url, printed = exposed
    text = "".join(printed)
    assert "anyone who can reach this address and has the token" in text
    port = url.rsplit(":", 1)[1]
    token = re.search(rf"open http://127\.0\.0\.1:{port}/\?token=([0-9a-f]+)", text).group(1)
    assert len(token) == 48
    assert f"open http://{socket.gethostname()}:{port}/?token={token}" in text

    r = ask(url, "GET", "/api/models")
    assert r.status == 401 and "needs its token" in r.json()["error"] and b"emoji-dcgan" not in r.body
    page = ask(url, "GET", "/")
    assert page.status == 401 and b"needs its token" in page.body and b"studio.js" not in page.body
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert ask(url, "GET", "/api/models?token=" + "0" * 48).status == 401
    assert ask(url, "GET", "/static/studio.js").status == 401
    for auth in (f"token {token}", f"Bearer {token}"):
        assert ask(url, "GET", "/api/models", headers={"Authorization": auth}).status == 200
    assert ask(url, "GET", f"/api/models?token={token}").status == 200
    # curl: no Origin, so the token decides
    recipe = json.dumps({"seed": 2}).encode()
    plain = ask(url, "POST", "/api/models/emoji-dcgan/render", recipe, {"Content-Type": "application/json"})
    assert plain.status == 401
    ok = ask(url, "POST", "/api/models/emoji-dcgan/render", recipe,
             {"Content-Type": "application/json", "Authorization": f"token {token}"})
    assert ok.status == 200 and ok.json()["seed"] == 2
    # the token does not let another origin in, and any IP address or the machine's name is a fine Host
    assert ask(url, "POST", "/api/models/emoji-dcgan/render", recipe,
               {"Content-Type": "application/json", "Authorization": f"token {token}",
                "Origin": "http://evil.example"}).status == 403
    for host, status in ((f"192.168.1.20:{port}", 200), (f"{socket.gethostname()}:{port}", 200),
                         (f"evil.example:{port}", 403)):
        assert ask(url, "GET", "/api/health", headers={"Host": host, "Authorization": f"token {token}"}
                   ).status == status, host


def test_the_token_url_sets_a_cookie_that_keeps_the_page_working(exposed) -> None:
    url, printed = exposed
    token = re.search(r"\?token=([0-9a-f]+)", "".join(printed)).group(1)
    first = ask(url, "GET", f"/?token={token}&view=2")
    assert first.status == 303 and first.headers["location"] == "/?view=2"            # out of the address bar
    cookie = first.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and token not in cookie
    jar = {"Cookie": cookie.split(";")[0]}
    page = ask(url, "GET", "/", headers=jar)
    assert page.status == 200 and b"studio.js" in page.body
    assert page.headers["referrer-policy"] == "no-referrer"
    assert ask(url, "GET", "/static/studio.js", headers=jar).status == 200
    port = url.rsplit(":", 1)[1]
    r = ask(url, "POST", "/api/models/emoji-dcgan/render", json.dumps({"seed": 3}).encode(),
            {**jar, "Content-Type": "application/json", "Origin": f"http://127.0.0.1:{port}"})
    assert r.status == 200
    forged = {"Cookie": jar["Cookie"].split("=")[0] + "=" + "0" * 64}
    assert ask(url, "GET", "/api/models", headers=forged).status == 401


# --- the command's choices, without serving -----------------------------------------------------------------


def served(argv: list[str], monkeypatch, capsys) -> tuple[object, str]:
    """What `ganvas studio ARGV` would serve (uvicorn's run replaced), and what it printed."""
    import uvicorn

    from ganvas.cli import main

    got = {}

    def run(self, sockets=None):
        got["app"] = self.config.app
        for s in sockets or []:
            s.close()

    monkeypatch.setattr(uvicorn.Server, "run", run)
    assert main(["studio", *argv, "--port", "0"]) == 0
    return got["app"], capsys.readouterr().err


def test_the_command_asks_for_a_token_when_told_or_bound_beyond_loopback(studio_runs: Path, monkeypatch,
                                                                          capsys) -> None:
    app, err = served([str(studio_runs)], monkeypatch, capsys)
    assert app.state.guard.token is None and "token=" not in err
    app, err = served([str(studio_runs), "--require-token"], monkeypatch, capsys)
    token = app.state.guard.token
    assert len(token) == 48 and f"/?token={token}" in err and "open http://127.0.0.1:" in err
    monkeypatch.setenv("GANVAS_STUDIO_TOKEN", "my-own-token-1")
    app, err = served([str(studio_runs)], monkeypatch, capsys)
    assert app.state.guard.token == "my-own-token-1" and "?token=my-own-token-1" in err
    monkeypatch.delenv("GANVAS_STUDIO_TOKEN")
    app, _ = served([str(studio_runs), "--allow-host", "studio.lan"], monkeypatch, capsys)
    with TestClient(app, base_url="http://studio.lan:8000") as c:
        assert c.get("/api/health").status_code == 200
    with TestClient(app, base_url="http://other.lan:8000") as c:
        assert c.get("/api/health").status_code == 403


def test_a_bad_token_is_a_one_line_error(studio_runs: Path, capsys) -> None:
    from conftest import assert_one_line_error

    from ganvas.cli import main

    code = main(["studio", str(studio_runs), "--token", "two words"])
    out = capsys.readouterr()
    assert_one_line_error(subprocess.CompletedProcess([], code, out.out, out.err), "--token must be")


# --- the checks as functions ----------------------------------------------------------------------------------


def test_which_hosts_a_guard_answers_to() -> None:
    local = Guard()
    for ok in ("127.0.0.1:8000", "localhost:8000", "LOCALHOST", "[::1]:8000", "127.0.0.2", "localhost."):
        assert local.host_ok(ok), ok
    for bad in ("evil.example", "evil.example:8000", "127.0.0.1.nip.io", "", None, "[::1", "localhost:80a",
                "10.0.0.2:8000", "0.0.0.0:8000"):
        assert not local.host_ok(bad), bad
    wide = Guard("0.0.0.0")
    assert wide.host_ok("10.0.0.2:8000") and wide.host_ok("[fe80::1]:8000") and wide.host_ok(socket.gethostname())
    assert not wide.host_ok("evil.example:8000")
    named = Guard("studio.lan", allow_hosts=["Proxy.Example."])
    assert named.host_ok("studio.lan:8000") and named.host_ok("proxy.example") and not named.host_ok("x.lan")
    assert Guard(allow_hosts=["*"]).host_ok("anything.example")


def test_which_origins_may_change_things() -> None:
    g = Guard()
    assert g.origin_ok("http://127.0.0.1:8000", "127.0.0.1:8000", "same-origin")
    assert g.origin_ok("http://localhost", "localhost:80", None)                      # default ports
    assert g.origin_ok(None, "127.0.0.1:8000", None)                                  # curl
    assert g.origin_ok(None, "127.0.0.1:8000", "none")                                # typed in the address bar
    for origin, fetch_site in (("http://evil.example", None), ("http://127.0.0.1:8001", None),
                               ("null", None), ("file://", None), (None, "cross-site"), (None, "same-site")):
        assert not g.origin_ok(origin, "127.0.0.1:8000", fetch_site), (origin, fetch_site)


def test_loopback_names_tokens_and_their_checks() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "localhost", "::1", "[::1]", "127.1.2.3"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "", "192.168.1.2", "myhost.lan"))
    a, b = new_token(), new_token()
    assert a != b and re.fullmatch(r"[0-9a-f]{48}", a)
    for bad in ("", "two words", "x" * 300):
        with pytest.raises(GanvasError, match="--token must be"):
            check_token(bad)
    with pytest.raises(GanvasError):
        Guard(token="")
