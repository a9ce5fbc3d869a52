import json
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def _rows(path: Path) -> list[dict]:
    if not path.exists():
        pytest.skip(f"{path} not found: the shared data folder sits beside the checkout (../shared/data)")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def math500_rows() -> list[dict]:
    return _rows(DATA / "math" / "math500_test.jsonl")


@pytest.fixture(scope="session")
def math_verify_cases() -> list[dict]:
    """Math-Verify's own parametrised test cases: gold, pred, expected (1/0), group."""
    return _rows(DATA / "verifier" / "math_verify_cases.jsonl")


@pytest.fixture(scope="session")
def gsm8k_test_rows() -> list[dict]:
    return _rows(DATA / "gsm8k" / "test.jsonl")


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """The models in tests are tiny: one intra-op thread is faster than two fighting over two cores. Reset
    before every test, since a command line run in process (agents.cli.train.main) chooses one thread per
    core: a later test that forks would hand its child libgomp's pool of threads that no longer exist there,
    and the child's first parallel matmul waits for them forever (seen in CI, where OMP_NUM_THREADS is unset)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
