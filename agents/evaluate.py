"""`python -m agents.evaluate` (and `from agents.evaluate import ...`): moved to agents/cli/evaluate.py."""

import sys

from agents.cli.evaluate import *  # noqa: F403
from agents.cli.evaluate import main

if __name__ == "__main__":
    sys.exit(main())
