"""`python -m agents.plots RUN [RUN ...]`: training curves of runs into one PNG (see agents/curves.py)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from agents import curves
from agents.cli.args import ArgumentParser, exit_on_user_error
from mathenv.errors import UserError


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; a folder that is not a run is one line on stderr, status 2."""
    ap = ArgumentParser(
        prog="python -m agents.plots",
        description=curves.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("runs", nargs="+", type=Path, help="run folders (each with metrics.jsonl)")
    ap.add_argument(
        "--out", type=Path, default=Path("curves.png"), help="the PNG to write (default: ./curves.png)"
    )
    ap.add_argument(
        "--x",
        choices=sorted(curves.X_KEYS),
        default="step",
        help="x axis: training steps, or attempts generated (compute; default step)",
    )
    ap.add_argument("--smooth", type=int, default=1, help="moving average window for train curves")
    ap.add_argument("--title", default=None, help="title above the panels")

    def body() -> None:
        a = ap.parse_args(argv)
        try:
            print(curves.plot(a.runs, a.out, a.x, a.smooth, a.title))
        except ImportError:
            raise UserError("drawing curves needs matplotlib: pip install matplotlib") from None

    return exit_on_user_error(body)


if __name__ == "__main__":
    raise SystemExit(main())
