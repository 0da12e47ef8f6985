"""Projection jobs: a few at a time, in background threads, each step sharing the model with others.

A projection takes seconds to minutes, so the API starts it and returns at once (202); the client
polls the job for its progress and a preview of the current reconstruction (or long-polls it:
``?wait=S`` answers as soon as the job stops, woken by the job's own event), and may cancel it.
At most `limit` run at once: one more is refused with 429 rather than queued, so a person learns
at once that the machine is busy. Each optimisation step holds the studio's compute lock only for
itself, so sliders and grids stay responsive while a projection runs. Finished jobs are kept a
while (bounded) for their results to be fetched.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ganvas.errors import GanvasError

KEEP_FINISHED = 32              # finished jobs kept for their results
PREVIEW_EVERY = 10              # steps between preview pictures


class Busy(GanvasError):
    """Too many projections running (HTTP 429)."""


@dataclass
class Job:
    id: str                                         # the job's handle in the API
    model: str                                      # the model's name
    steps: int                                      # steps asked for
    state: str = "running"                          # running | done | failed | cancelled
    step: int = 0                                   # steps done
    loss: float | None = None                       # the latest total loss
    preview: str | None = None                      # a data URL of the current reconstruction
    result: dict[str, Any] | None = None            # when done: the item (recipe, latent, image) and errors
    error: str | None = None                        # when failed: one line
    started: float = field(default_factory=time.time)
    finished: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)     # set when it stops, whatever the state
    _waiters: list = field(default_factory=list, repr=False, compare=False)   # (loop, future) of waiting requests
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def report(self, step: int, loss: float, preview: str | None = None) -> None:
        """Progress from the job's thread: steps done, the latest loss, and sometimes a new preview."""
        self.step, self.loss = step, loss
        if preview is not None:
            self.preview = preview

    def finish(self) -> None:
        """Mark the job stopped and wake everyone waiting for it (threads and event loops)."""
        self.finished = time.time()
        with self._lock:
            self.done.set()
            waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            with contextlib.suppress(RuntimeError):         # that loop has closed: nobody is waiting any more
                loop.call_soon_threadsafe(_resolve, future)

    async def wait_async(self, timeout: float) -> bool:
        """Wait (without holding a thread) until the job stops or `timeout` seconds pass; whether it stopped."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._lock:
            if self.done.is_set():
                return True
            self._waiters.append((loop, future))
        try:
            await asyncio.wait_for(future, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            with self._lock:
                if (loop, future) in self._waiters:
                    self._waiters.remove((loop, future))

    def to_dict(self) -> dict[str, Any]:
        out = {"id": self.id, "model": self.model, "state": self.state, "step": self.step, "steps": self.steps,
               "loss": self.loss, "preview": self.preview, "error": self.error,
               "seconds": round((self.finished or time.time()) - self.started, 2)}
        if self.result is not None:
            out["result"] = self.result
        return out


class Jobs:
    def __init__(self, limit: int = 1) -> None:
        self.limit = max(1, limit)                  # projections allowed to run at once
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()

    def running(self) -> int:
        return sum(1 for j in self._jobs.values() if j.state == "running")

    def start(self, model: str, steps: int, work: Callable[[Job], dict[str, Any]]) -> Job:
        """Run `work(job)` in a thread; refused with `Busy` when `limit` jobs are running."""
        with self._lock:
            if self.running() >= self.limit:
                raise Busy(f"{self.limit} projection(s) already running (the limit); wait for one to finish "
                           "or cancel it (DELETE /api/jobs/ID)")
            job = Job(uuid.uuid4().hex[:16], model, steps)
            self._jobs[job.id] = job
            finished = [k for k, j in self._jobs.items() if j.state != "running"]
            for k in finished[:max(0, len(finished) - KEEP_FINISHED)]:
                del self._jobs[k]

        def run() -> None:
            try:
                job.result = work(job)
                job.state = "cancelled" if job.cancel.is_set() else "done"
            except GanvasError as exc:
                job.error, job.state = str(exc), "failed"
            except Exception as exc:  # a bug: reported on the job, never crashing the server
                job.error, job.state = f"internal error: {type(exc).__name__}: {exc}", "failed"
            finally:
                job.finish()

        threading.Thread(target=run, name=f"ganvas-projection-{job.id}", daemon=True).start()
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def wait(self, job: Job, timeout: float) -> bool:
        """Block until `job` stops or `timeout` seconds pass; whether it stopped."""
        return job.done.wait(timeout)


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)
