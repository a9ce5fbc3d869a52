"""Training on CPU cores that other processes share: what the command lines choose, and the line that says it.

OpenMP threads that spin while they wait crawl when other processes hold the cores: one SmolLM2 step took 515 s
spinning and 187 s waiting passively side by side under the same load (issue 35; scripts/warm_start.py measured
6x on 2 busy cores), and waiting passively costs little on an idle machine. libgomp reads OMP_WAIT_POLICY once,
when torch loads it, so `import agents` (agents/__init__.py) sets it, unless set already, while torch is not
loaded yet: `python -m agents.X`, the mathenv-* commands and scripts/ all import the package first. The
commands then call `configure()` and print its line.
"""

from __future__ import annotations

import os


def cores() -> int:
    """The cores this process may run on (its affinity mask: a container's or taskset's share)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def configure() -> str:
    """Choose torch's threads (OMP_NUM_THREADS when set, else one per core this process may use) and return
    the line that says the CPU settings, for the run's log."""
    import torch

    env_threads = os.environ.get("OMP_NUM_THREADS", "")
    if env_threads.isdigit() and int(env_threads) > 0:
        threads, why = int(env_threads), "OMP_NUM_THREADS"
    else:
        threads, why = cores(), f"one per core available, of {os.cpu_count()}; OMP_NUM_THREADS=N to change"
    torch.set_num_threads(threads)
    policy = os.environ.get("OMP_WAIT_POLICY")
    if policy is None:  # torch loaded before agents could set it (agents sets it otherwise)
        wait = (
            "OpenMP's default wait policy (spins) as torch loaded before agents; export "
            "OMP_WAIT_POLICY=PASSIVE before starting Python on shared cores"
        )
    elif policy.upper() == "PASSIVE":
        wait = "OMP_WAIT_POLICY=PASSIVE (idle threads sleep: cores shared with other processes stay usable)"
    else:
        wait = f"OMP_WAIT_POLICY={policy} (as set)"
    return f"cpu: {threads} torch thread{'s' * (threads != 1)} ({why}); {wait}"
