"""Thin alias of `python -m agents.train` (same flags): `python scripts/train.py --preset tiny --steps 5`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agents.cli.train import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
