"""`python -m agents.plots` (and `from agents.plots import ...`): moved to agents/cli/plots.py."""

import sys

from agents.cli.plots import *  # noqa: F403
from agents.cli.plots import main

if __name__ == "__main__":
    sys.exit(main())
