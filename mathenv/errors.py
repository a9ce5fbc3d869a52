"""The one exception family for mistakes in what a user asked for (a bad option, a missing or malformed file,
an unreachable hub): command lines print its message as one line and exit 2 instead of a traceback, so every
message names what was wrong and what to do. Bugs stay ordinary exceptions, with their tracebacks."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import NoReturn, TextIO


class UserError(Exception):
    """What the user asked for cannot be done as asked; the message says what to change."""


def _one_line_user_errors(previous: Callable[..., object]) -> Callable[..., object]:
    """A `sys.excepthook` that prints an uncaught UserError as one line (`gym.make("MathReasoning-v0",
    dataset="nope")` in a script: its message, not 16 lines of frames in Gymnasium and mathenv), and leaves every
    other exception, a bug's, to `previous`. MATHENV_TRACEBACK=1 shows the frames."""

    def hook(kind: type[BaseException], value: BaseException, tb: object) -> None:
        if issubclass(kind, UserError) and not os.environ.get("MATHENV_TRACEBACK"):
            print(f"{kind.__name__}: {value}", file=sys.stderr)
        else:
            previous(kind, value, tb)

    hook.one_line_user_errors = True  # type: ignore[attr-defined]
    return hook


if not getattr(sys.excepthook, "one_line_user_errors", False):  # once, whatever reloads the module
    sys.excepthook = _one_line_user_errors(sys.excepthook)


def exit_on_user_error(body: Callable[[], int | None]) -> int:
    """Run a command line's body: a UserError becomes one line on stderr and exit status 2 (argparse's status
    for bad usage); anything else keeps its traceback. Warnings print as one line each."""
    try:
        with one_line_warnings():
            return body() or 0
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


@contextlib.contextmanager
def one_line_warnings() -> Iterator[None]:
    """Warnings printed as `warning: message`, one line, without the file name and the echoed source line
    that Python adds (those are for developers; a log reader wants the message once)."""

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        print(f"warning: {message}", file=file or sys.stderr, flush=True)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


class ArgumentParser(argparse.ArgumentParser):
    """argparse for the command lines: a bad option is a UserError (one line naming the option, exit 2 through
    `exit_on_user_error`) instead of argparse's usage block, which can be 50 lines long for agents.train."""

    def error(self, message: str) -> NoReturn:
        raise UserError(f"{message} (see {self.prog} --help)")
