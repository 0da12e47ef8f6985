"""`ganvas studio` started as a separate process, for the programs that must drive the real server:
the browser tests, the screenshots script and the latency benchmark.

They start the very command a person types, on a free loopback port, wait until `/api/health`
answers, and stop it afterwards; a server that dies while starting is reported with its exit code.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

CHROMIUM = "/usr/bin/chromium"      # Debian's package `chromium`; Playwright drives it, nothing is downloaded
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


class StudioDidNotStart(RuntimeError):
    """The studio process exited, or did not answer in time."""


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_studio(runs: Path, env: dict[str, str] | None = None, stdout: IO | int | None = None,
                   cwd: Path | None = None, wait_s: float = 60.0, args: Sequence[str] = (),
                   token: str | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """`ganvas studio RUNS --port P [ARGS]` running: yields its base URL and the process, then terminates it.

    `token` is handed over in $GANVAS_STUDIO_TOKEN (kept out of the process list) and asked for.
    """
    port = free_port()
    if token is not None:
        env = {**(os.environ if env is None else env), "GANVAS_STUDIO_TOKEN": token}
    proc = subprocess.Popen([sys.executable, "-m", "ganvas", "studio", str(runs), "--port", str(port), *args],
                            stdout=stdout, stderr=subprocess.STDOUT if stdout is not None else None, env=env, cwd=cwd)
    url = f"http://127.0.0.1:{port}"
    health = urllib.request.Request(f"{url}/api/health",
                                    headers={"Authorization": f"token {token}"} if token else {})
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                with urllib.request.urlopen(health, timeout=2) as r:
                    if json.load(r)["status"] == "ok":
                        break
            except urllib.error.HTTPError as exc:
                if exc.code == 401:                 # up, and asking for a token the caller did not give
                    break
                raise StudioDidNotStart(f"ganvas studio answered {exc.code} on {url}/api/health") from None
            except OSError:
                if proc.poll() is not None:
                    raise StudioDidNotStart(f"ganvas studio exited with code {proc.returncode}") from None
                if time.monotonic() > deadline:
                    raise StudioDidNotStart(f"ganvas studio did not answer on {url} within {wait_s:.0f} s") from None
                time.sleep(0.2)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
