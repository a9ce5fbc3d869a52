"""`python -m agents.verl_trainer`: moved to integrations/verl/main.py (`python -m integrations.verl.main`)."""

import sys

from integrations.verl.main import *  # noqa: F403
from integrations.verl.main import main

if __name__ == "__main__":
    sys.exit(main())
