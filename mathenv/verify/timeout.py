"""A hard time bound around a call, the same in any thread and any process.

math-verify and sympy are pure Python plus big-integer arithmetic in C: `9^9^9^9` or `1000000!` can run
for hours inside one C call that no signal interrupts, and signals reach only the main thread anyway.
So the bounded work runs in a helper process, which is killed when the bound passes. The helper is a
plain `python -c` started with `subprocess` and spoken to over its stdin/stdout pipes: it never imports
the caller's `__main__`, so a script without an `if __name__ == "__main__":` guard works from any thread.
A warm spare helper waits beside the busy one: when a call overruns, the spare takes over at once and the
next spare starts in the background, so a timeout costs the bound and not a process start.
"""

from __future__ import annotations

import atexit
import importlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

FIRST_START_SECONDS = 120.0  # the first helper's imports are paid once, outside any call's bound
#: the helper's program: the parent's own mathenv first on the path (not one that the working directory or
#: PYTHONPATH happens to hold), then serve
_SERVE = "import sys; sys.path.insert(0, sys.argv[1]); from mathenv.verify.timeout import serve; serve()"


class CallTimeout(Exception):
    """The call did not finish inside its time bound."""


def serve() -> None:
    """The helper's loop: read (module, function, args), answer ("ok", value) or ("error", exception).

    Requests arrive on stdin; answers leave on the stdout the helper was started with, while stray prints
    of the code it runs go to stderr and cannot garble the protocol."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent, which then ends this helper
    answers = Connection(os.dup(1))
    os.dup2(2, 1)
    requests = Connection(0)
    grader = importlib.import_module("mathenv.verify.grader")
    # pay the imports and math-verify's first-use costs (its LaTeX grammar, sympy's caches: a second or more)
    # before the first timed call, so a fresh helper answers its first call as fast as later ones
    grader.judge("\\frac{\\sqrt{2}}{2} \\leq x", "x \\geq \\frac{1}{\\sqrt{2}}")
    answers.send(("ready", None))
    while True:
        try:
            module, name, args = requests.recv()
        except (EOFError, OSError):  # the parent went away
            return
        try:
            answer = ("ok", getattr(importlib.import_module(module), name)(*args))
        except Exception as exc:  # the parent re-raises it
            answer = ("error", exc)
        try:
            answers.send(answer)
        except OSError:  # the parent went away
            return
        except Exception as exc:  # an answer that does not pickle
            answers.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))


class _Helper:
    """One helper process and its two pipe ends."""

    def __init__(self) -> None:
        root = str(Path(__file__).resolve().parents[2])  # the folder holding this mathenv package
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _SERVE, root],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        self.requests = Connection(os.dup(self.proc.stdin.fileno()))
        self.answers = Connection(os.dup(self.proc.stdout.fileno()))
        self.proc.stdin.close()
        self.proc.stdout.close()
        self.ready = False

    def wait_ready(self, seconds: float) -> bool:
        """True once the helper has finished its imports (waiting at most `seconds` for it)."""
        if not self.ready and self.answers.poll(max(seconds, 0.0)):
            try:
                self.ready = self.answers.recv()[0] == "ready"
            except (EOFError, OSError):
                self.ready = False
        return self.ready

    def stop(self) -> None:
        for conn in (self.requests, self.answers):
            conn.close()
        self.proc.kill()
        threading.Thread(target=self.proc.wait, daemon=True).start()  # reap it without waiting here


class _Pool:
    """The busy helper and its warm spare; calls are one at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._busy: _Helper | None = None
        self._spare: _Helper | None = None
        self._started = False

    def _take_over(self) -> None:
        """Make the spare the busy helper and start the next spare (in the background: Popen returns)."""
        if self._busy is not None:
            self._busy.stop()
        self._busy, self._spare = self._spare or _Helper(), _Helper()

    def call(self, fn: Callable[..., Any], args: tuple, seconds: float) -> Any:
        deadline = time.monotonic() + seconds
        with self._lock:
            if self._busy is None or self._busy.proc.poll() is not None:
                self._take_over()
            if not self._started:  # the very first helper: wait for its imports, once per process
                if not self._busy.wait_ready(FIRST_START_SECONDS):
                    self.close()
                    raise RuntimeError(f"the verifier's helper process ({sys.executable}) did not start")
                self._started = True
                deadline = time.monotonic() + seconds
            helper = self._busy
            try:
                if not helper.wait_ready(deadline - time.monotonic()):
                    raise CallTimeout()
                helper.requests.send((fn.__module__, fn.__name__, args))
                if not helper.answers.poll(max(deadline - time.monotonic(), 0.0)):
                    raise CallTimeout()
                status, value = helper.answers.recv()
            except (CallTimeout, EOFError, OSError):
                self._take_over()
                raise CallTimeout() from None
        if status == "error":
            raise value
        return value

    def warm(self, wait: bool) -> None:
        """Start the helpers if none is running; with `wait`, also wait until the busy one is ready."""
        with self._lock:
            if self._busy is None or self._busy.proc.poll() is not None:
                self._take_over()
            if wait and not self._started:
                if not self._busy.wait_ready(FIRST_START_SECONDS):
                    self.close()
                    raise RuntimeError(f"the verifier's helper process ({sys.executable}) did not start")
                self._started = True

    def close(self) -> None:
        for helper in (self._busy, self._spare):
            if helper is not None:
                helper.stop()
        self._busy = self._spare = None
        self._started = False  # a helper started after this waits for its imports outside the bound again

    def forget(self) -> None:
        """In a forked child: drop the parent's helpers without stopping them (they serve the parent, which
        may be mid-call on them); this process starts its own on its first call."""
        for helper in (self._busy, self._spare):
            if helper is not None:
                for conn in (helper.requests, helper.answers):
                    conn.close()  # this process's copies of the pipe ends only
        self._lock = threading.Lock()
        self._busy = self._spare = None
        self._started = False


_pool = _Pool()
atexit.register(_pool.close)
os.register_at_fork(after_in_child=_pool.forget)


def call_with_timeout(fn: Callable[..., Any], args: tuple, seconds: float) -> Any:
    """`fn(*args)` computed in the helper process, or CallTimeout after `seconds`. `fn` must be a
    module-level function and `args` picklable (both are sent to the helper)."""
    return _pool.call(fn, args, seconds)


def warm_up(wait: bool = True) -> None:
    """Start the verifier's helper process (and its spare) now, so that the first answer math-verify must
    judge does not pay its start (imports and math-verify's first-use costs: one to several seconds).
    `wait=False` returns at once and lets the helper start in the background, as the env does at
    construction; `wait=True` returns once it is ready. Costs nothing where the helper already runs."""
    _pool.warm(wait)
