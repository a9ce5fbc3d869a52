"""What every command line shares: `ArgumentParser` (a bad option is a `UserError`) and `exit_on_user_error`
(a UserError is one line on stderr and exit status 2; warnings one line each)."""

from __future__ import annotations

import argparse
import contextlib
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import NoReturn, TextIO

from mathenv.errors import UserError


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
