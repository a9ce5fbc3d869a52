"""`python -m agents.quickstart` (and `from agents.quickstart import ...`): moved to agents/cli/quickstart.py."""

import sys

from agents.cli.quickstart import *  # noqa: F403
from agents.cli.quickstart import main

if __name__ == "__main__":
    sys.exit(main())
