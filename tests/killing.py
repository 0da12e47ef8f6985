"""Stopping a real `ganvas train` process at an exact point of a checkpoint write, without racing it.

The process is started with GANVAS_TEST_PAUSE_CHECKPOINT=STEP:STAGE (ganvas.train.checkpoint): when it
reaches that point it says so on stderr and stops there for good. The test reads stderr line by line
(a blocking read: no sleep, no polling) until that line, then kills it at a moment it knows.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from ganvas.train.checkpoint import PAUSE_ENV

REPO = Path(__file__).resolve().parents[1]
TRAIN = ["--model", "dcgan", "--data", "emoji", "--resolution", "32", "--batch-size", "16", "--kimg", "0.96",
         "--set", "model_args.ngf=8", "--set", "model_args.ndf=8", "--set", "checkpoint_every=10",
         "--set", "sample_every=1000", "--set", "log_every=1", "--set", "sample_count=4"]
PLANNED_STEPS = 60          # 0.96 kimg / 16 images per step


def ganvas(*args: str) -> list[str]:
    return [sys.executable, "-m", "ganvas", *args]


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), **extra}


def kill_when_paused(args: list[str], pause: str, timeout: float = 300) -> str:
    """Run `args` until it pauses at `pause` (STEP:STAGE), SIGKILL it there; returns the pause line.

    A watchdog kills the process if the line never comes (the test then fails on the missing line)."""
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=env(**{PAUSE_ENV: pause}), start_new_session=True)
    watchdog = threading.Timer(timeout, lambda: os.killpg(proc.pid, signal.SIGKILL))
    watchdog.start()
    seen = []
    try:
        for line in proc.stderr:                # blocks until the process writes a line or exits
            seen.append(line)
            if line.startswith("checkpoint paused: "):
                return line.strip()
        raise AssertionError("the run ended without pausing at " + pause + ":\n" + "".join(seen))
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
