"""The one exception family for mistakes in what a user asked for (a bad option, a missing or malformed file,
an unreachable hub): command lines print its message as one line and exit 2 instead of a traceback, so every
message names what was wrong and what to do. Bugs stay ordinary exceptions, with their tracebacks."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable


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
