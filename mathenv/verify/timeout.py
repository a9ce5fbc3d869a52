"""A hard time bound around a call, valid in any thread.

sympy is pure Python and can run for minutes on an unlucky expression. In the main thread a SIGALRM timer
interrupts it (cheap: no process boundary). Signals only reach the main thread, so calls from other threads
(a trainer's scoring thread, a web server) run the work in a helper process that is killed when the bound
passes and restarted on the next call. Either way the caller gets `CallTimeout` after `seconds`.
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import signal
import threading
from collections.abc import Callable
from typing import Any


class CallTimeout(Exception):
    """The call did not finish inside its time bound."""


def _raise_timeout(signum: int, frame: Any) -> None:
    raise CallTimeout()


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")


def _with_alarm(fn: Callable[..., Any], args: tuple, seconds: float) -> Any:
    previous_handler = signal.signal(signal.SIGALRM, _raise_timeout)
    previous_delay, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if previous_delay:  # someone else's timer was running: give it back what was left
            signal.setitimer(signal.ITIMER_REAL, max(previous_delay - seconds, 1e-3))


def _worker_loop(conn: Any) -> None:
    importlib.import_module("mathenv.verify")  # pay the imports before the first timed call
    conn.send(("ready", None))
    while True:
        try:
            module, name, args = conn.recv()
        except EOFError:
            return
        try:
            fn = getattr(importlib.import_module(module), name)
            conn.send(("ok", fn(*args)))
        except Exception as exc:  # the parent re-raises it
            conn.send(("error", exc))


class _Worker:
    """One helper process, reused across calls, replaced when a call overruns."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: Any = None
        self._conn: Any = None

    def _start(self) -> None:
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(target=_worker_loop, args=(child,), daemon=True)
        self._proc.start()
        child.close()
        if not parent.poll(120) or parent.recv()[0] != "ready":
            self._proc.kill()
            raise RuntimeError("the verifier's helper process did not start")
        self._conn = parent

    def _stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.join()
        self._proc = None
        self._conn = None

    def call(self, fn: Callable[..., Any], args: tuple, seconds: float) -> Any:
        with self._lock:
            if self._proc is None or not self._proc.is_alive():
                self._start()
            self._conn.send((fn.__module__, fn.__name__, args))
            if not self._conn.poll(seconds):
                self._stop()
                raise CallTimeout()
            status, value = self._conn.recv()
        if status == "error":
            raise value
        return value


_worker = _Worker()


def call_with_timeout(fn: Callable[..., Any], args: tuple, seconds: float) -> Any:
    """`fn(*args)`, or CallTimeout after `seconds`. `fn` must be a module-level function (it may be sent
    to a helper process by name)."""
    if seconds <= 0:
        return fn(*args)
    if _in_main_thread():
        return _with_alarm(fn, args, seconds)
    return _worker.call(fn, args, seconds)
