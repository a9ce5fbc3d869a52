"""Plot training curves of one or more runs (the same as `python -m agents.plots`, see agents/cli/plots.py):

    python scripts/plot.py runs/grpo-uniform-* runs/grpo-learnability-* --out curves.png [--x compute]

Writes ./curves.png unless --out says otherwise (docs/ only when you name it).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agents.cli.plots import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
