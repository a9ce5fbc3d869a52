"""A hard bound on the CPU time of a call, the same in any thread and any process, whatever the machine's load.

math-verify and sympy are pure Python plus big-integer arithmetic in C: `9^9^9^9` or `1000000!` can run
for hours inside one C call that no signal handler interrupts, and signals reach only the main thread anyway.
So the bounded work runs in a helper process. The bound is the helper's own CPU time, not the wall clock: the
kernel sends the helper SIGPROF once the call has used its budget of CPU seconds (`setitimer(ITIMER_PROF)`),
and SIGPROF's default action ends the process even inside a C call. A helper that gets a tenth of a core on a
busy machine takes ten times longer in wall time but reaches the same verdict, so the reward does not depend on
the load (issue 35); an input built to run for hours still ends after its budget of CPU. A wall-clock backstop,
far above what load alone can cause, ends a helper that is not running at all (stopped, or waiting on something).

The helper is a plain `python -c` started with `subprocess` and spoken to over its stdin/stdout pipes: it never
imports the caller's `__main__`, so a script without an `if __name__ == "__main__":` guard works from any thread.
It knows nothing of the verifier: the caller names a module-level function to run, and a warm-up call that each
new helper runs before it counts as ready (imports and first-use costs are paid there, outside any budget). A warm
spare waits beside the busy helper: when a call overruns, the spare takes over and the next spare starts in the
background, so a timeout costs its budget and not a process start.
"""

from __future__ import annotations

import atexit
import importlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

START_SECONDS = 120.0  # a helper's imports and warm-up call, paid outside any call's budget
#: the wall-clock backstop of a call with a budget of `b` CPU seconds: BACKSTOP_SECONDS + BACKSTOP_FACTOR * b. A
#: helper with a twentieth of a core still finishes inside it; only one that does not run at all reaches it
BACKSTOP_SECONDS, BACKSTOP_FACTOR = 60.0, 20.0
#: where the platform has no CPU-time timer (Windows), the budget is wall-clock seconds, as a last resort
CPU_TIMER = hasattr(signal, "setitimer") and hasattr(signal, "SIGPROF")
#: the helper's program: the parent's own mathenv first on the path (not one that the working directory or
#: PYTHONPATH happens to hold), then serve
_SERVE = "import sys; sys.path.insert(0, sys.argv[1]); from mathenv.verify.timeout import serve; serve()"


class CallTimeout(Exception):
    """The call did not finish inside its budget. `cpu` is True where the helper used its budget of CPU time
    (the bound at work), False where the wall-clock backstop ended a helper that was not running."""

    def __init__(self, cpu: bool) -> None:
        super().__init__("CPU-time budget used up" if cpu else "no answer before the wall-clock backstop")
        self.cpu = cpu


def serve() -> None:
    """The helper's loop: read (module, function, args, CPU seconds or None), answer ("ok", value) or
    ("error", exception); a call past its CPU seconds ends the process (SIGPROF, default action).

    Requests arrive on stdin; answers leave on the stdout the helper was started with, while stray prints
    of the code it runs go to stderr and cannot garble the protocol."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent, which then ends this helper
    if CPU_TIMER:
        signal.signal(signal.SIGPROF, signal.SIG_DFL)  # the budget's end ends the process, C calls included
    answers = Connection(os.dup(1))
    os.dup2(2, 1)
    requests = Connection(0)
    while True:
        try:
            module, name, args, cpu_seconds = requests.recv()
        except (EOFError, OSError):  # the parent went away
            return
        try:
            fn = getattr(importlib.import_module(module), name)
            if cpu_seconds is not None and CPU_TIMER:
                signal.setitimer(signal.ITIMER_PROF, cpu_seconds)
            try:
                answer = ("ok", fn(*args))
            finally:
                if CPU_TIMER:
                    signal.setitimer(signal.ITIMER_PROF, 0)
        except Exception as exc:  # the parent re-raises it
            answer = ("error", exc)
        try:
            answers.send(answer)
        except OSError:  # the parent went away
            return
        except Exception as exc:  # an answer that does not pickle
            answers.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))


Call = tuple[Callable[..., Any], tuple]  # a module-level function and its (picklable) arguments


def _request(fn: Callable[..., Any], args: tuple, cpu_seconds: float | None) -> tuple:
    return fn.__module__, fn.__name__, args, cpu_seconds


class _Helper:
    """One helper process and its two pipe ends; its warm-up call is sent at once and answered when it is ready."""

    def __init__(self, warmup: Call | None) -> None:
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
        self.ready = warmup is None
        if warmup is not None:
            self.requests.send(_request(*warmup, None))

    def wait_ready(self, seconds: float) -> bool:
        """True once the helper has answered its warm-up call (waiting at most `seconds` for it); a warm-up
        that raised still counts (the calls that follow will raise the same, and say why)."""
        if not self.ready and self.answers.poll(seconds):
            try:
                self.answers.recv()
                self.ready = True
            except (EOFError, OSError):
                self.ready = False
        return self.ready

    def stop(self) -> None:
        for conn in (self.requests, self.answers):
            conn.close()
        self.proc.kill()
        threading.Thread(target=self.proc.wait, daemon=True).start()  # reap it without waiting here


def _ended_by_budget(helper: _Helper) -> bool:
    """True where the helper, whose answers pipe closed, ended by its CPU-time budget (SIGPROF)."""
    try:
        return helper.proc.wait(timeout=10) == -signal.SIGPROF
    except subprocess.TimeoutExpired:
        return False


class _Pool:
    """The busy helper and its warm spare; calls are one at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._busy: _Helper | None = None
        self._spare: _Helper | None = None
        self._warmup: Call | None = None

    def _take_over(self) -> None:
        """The spare (or a new helper) becomes the busy one; the next spare starts at the next call."""
        if self._busy is not None:
            self._busy.stop()
        self._busy, self._spare = self._spare or _Helper(self._warmup), None

    def _start(self, warmup: Call | None) -> _Helper:
        """The busy helper, started (in the background: Popen returns) where none runs."""
        if warmup is not None:
            self._warmup = warmup
        if self._busy is None or self._busy.proc.poll() is not None:
            self._take_over()
        return self._busy

    def _ready(self, helper: _Helper) -> None:
        if not helper.wait_ready(START_SECONDS):
            self.close()
            raise RuntimeError(f"the verifier's helper process ({sys.executable}) did not start")

    def call(self, fn: Callable[..., Any], args: tuple, cpu_seconds: float, warmup: Call | None) -> Any:
        with self._lock:
            helper = self._start(warmup)
            self._ready(helper)  # a start is never counted against the call's budget, under any load
            if self._spare is None:  # for the next timeout: it takes over without a start
                self._spare = _Helper(self._warmup)
            backstop = BACKSTOP_SECONDS + BACKSTOP_FACTOR * cpu_seconds if CPU_TIMER else cpu_seconds
            try:
                helper.requests.send(_request(fn, args, cpu_seconds))
                if not helper.answers.poll(backstop):
                    raise CallTimeout(False)
                status, value = helper.answers.recv()
            except (CallTimeout, EOFError, OSError) as exc:
                cpu = not isinstance(exc, CallTimeout) and _ended_by_budget(helper)
                self._take_over()
                raise CallTimeout(cpu) from None
        if status == "error":
            raise value
        return value

    def warm(self, warmup: Call | None, wait: bool) -> None:
        """Start the busy helper if none is running; with `wait`, also its spare, and wait until both are ready
        (so that no start runs beside the calls that follow: a benchmark's timings, a test's)."""
        with self._lock:
            helper = self._start(warmup)
            if wait:
                if self._spare is None:
                    self._spare = _Helper(self._warmup)
                self._ready(helper)
                self._ready(self._spare)

    def close(self) -> None:
        for helper in (self._busy, self._spare):
            if helper is not None:
                helper.stop()
        self._busy = self._spare = None

    def forget(self) -> None:
        """In a forked child: drop the parent's helpers without stopping them (they serve the parent, which
        may be mid-call on them); this process starts its own on its first call."""
        for helper in (self._busy, self._spare):
            if helper is not None:
                for conn in (helper.requests, helper.answers):
                    conn.close()  # this process's copies of the pipe ends only
        self._lock = threading.Lock()
        self._busy = self._spare = None


_pool = _Pool()
atexit.register(_pool.close)
os.register_at_fork(after_in_child=_pool.forget)


def call_with_timeout(
    fn: Callable[..., Any], args: tuple, cpu_seconds: float, warmup: Call | None = None
) -> Any:
    """`fn(*args)` computed in the helper process, or CallTimeout once it has used `cpu_seconds` of the helper's
    CPU time. `fn` must be a module-level function and `args` picklable (both are sent to the helper).
    `warmup`, a call of the same kind, is what each helper started from now on runs before its first call."""
    return _pool.call(fn, args, float(cpu_seconds), warmup)


def start_helper(warmup: Call | None = None, wait: bool = True) -> None:
    """Start the helper process now (costs nothing where it runs), running `warmup` first; `wait` returns once
    it is ready, else at once while it starts in the background."""
    _pool.warm(warmup, wait)
