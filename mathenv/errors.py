"""The one exception family for mistakes in what a user asked for (a bad option, a missing or malformed file,
an unreachable hub): command lines print its message as one line and exit 2 instead of a traceback, so every
message names what was wrong and what to do. Bugs stay ordinary exceptions, with their tracebacks."""

from __future__ import annotations


class UserError(Exception):
    """What the user asked for cannot be done as asked; the message says what to change."""
