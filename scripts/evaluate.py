"""Thin alias of `python -m agents.evaluate` (same flags): pass@1 and maj@k of a model on a split."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agents.cli.evaluate import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
