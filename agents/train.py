"""`python -m agents.train` (and `from agents.train import ...`): moved to agents/cli/train.py."""

import sys

from agents.cli.train import *  # noqa: F403
from agents.cli.train import main

if __name__ == "__main__":
    sys.exit(main())
