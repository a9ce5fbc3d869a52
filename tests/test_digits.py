"""The `digits` dataset: column-by-column worked solutions, three splits by a hash of the text, the facts a
held-out question needs all taught in `sft`, and every split reachable through the env."""

import gymnasium as gym
import pytest

import mathenv  # noqa: F401  (registers MathReasoning-v0)
from mathenv import digits, load_questions
from mathenv.verify import score


def test_levels_are_a_knob_of_operation_and_digits():
    assert len(digits.LEVELS) >= 8
    for level in digits.LEVELS:
        op, n = digits.LEVEL_SPECS[level]
        qs = digits.generate(30, seed=3, levels=[level], split="train")
        assert {q.difficulty for q in qs} == {level}
        for q in qs:
            a, shown_op, b = q.question.removeprefix("What is ").removesuffix("?").split(" ")
            assert shown_op == op and len(a) == n
            assert len(b) == (1 if op == "*" else n)
    # harder levels have more columns: a solution has one step per digit of the first operand
    steps = [len(digits.facts(digits.generate(1, levels=[lv])[0].solution)) for lv in digits.LEVELS]
    assert steps == sorted(steps) and steps[0] == 2 and steps[-1] == 6


@pytest.mark.parametrize("op", ["+", "-", "*"])
def test_worked_solutions_are_true_column_arithmetic(op):
    level = next(lv for lv, (o, n) in digits.LEVEL_SPECS.items() if o == op and n == 4)
    for q in digits.generate(300, seed=1, levels=[level], split="sft"):
        assert score(q.solution, q.answer, last_number=False).correct, q
        a, _, b = q.question.removeprefix("What is ").removesuffix("?").split(" ")
        written = ""
        for k, line in enumerate(q.solution.splitlines()[:-1]):
            fact, partial = line.split(" ")
            lhs, rhs = fact.split("=")
            assert eval(lhs) == int(rhs), line  # noqa: S307  (digits and + - * only, generated here)
            # the column's own digit of the first operand (plus ten where a subtraction borrows)
            top = int(lhs.split(op)[0])
            assert top % 10 == int(a[::-1][k]), line
            # the answer so far: this column's digit in front of the previous line's
            assert partial.endswith(written) and len(partial) >= len(written) + 1
            written = partial
        assert int(written) == int(q.answer)


def test_generation_is_deterministic_and_each_split_is_its_own_stream():
    a = digits.generate(120, seed=5, split="train")
    assert a == digits.generate(120, seed=5, split="train")
    assert a != digits.generate(120, seed=6, split="train")
    for split in digits.SPLITS:
        assert all(digits.split_of(q.question) == split for q in digits.generate(120, seed=5, split=split))


def test_three_splits_share_no_text_at_100000_questions():
    texts = {split: {q.question for q in digits.generate(100_000, split=split)} for split in digits.SPLITS}
    assert not texts["sft"] & texts["train"]
    assert not texts["sft"] & texts["test"]
    assert not texts["train"] & texts["test"]
    # the pools are large and mostly distinct texts, so the check compares many texts (not a few repeated ones)
    assert all(len(t) > 60_000 for t in texts.values())
    # the hash splits the levels evenly enough that even the smallest level is in every split
    for split in digits.SPLITS:
        assert {q.difficulty for q in digits.generate(24, split=split)} == set(digits.LEVELS)


def _every_fact() -> set[str]:
    """Every one-column fact a question of any length can need, enumerated apart from the generator."""
    sums = {f"{x}+{y}+{c}={x + y + c}" for x in range(10) for y in range(10) for c in (0, 1)}
    differences = {
        f"{x + 10 * (x < y + c)}-{y}-{c}={x + 10 * (x < y + c) - y - c}"
        for x in range(10)
        for y in range(10)
        for c in (0, 1)
    }
    products = set()
    for m in range(2, 10):
        carries = {0}
        while True:  # the carries reachable with this multiplier
            more = carries | {(x * m + c) // 10 for x in range(10) for c in carries}
            if more == carries:
                break
            carries = more
        products |= {f"{x}*{m}+{c}={x * m + c}" for x in range(10) for c in carries}
    return sums | differences | products


def test_every_fact_a_held_out_question_needs_is_taught_in_sft():
    taught = {f for q in digits.generate(60_000, split="sft") for f in digits.facts(q.solution)}
    needed = {
        f
        for split in ("train", "test")
        for q in digits.generate(20_000, split=split)
        for f in digits.facts(q.solution)
    }
    possible = _every_fact()
    assert needed <= possible and taught <= possible
    # sft teaches every fact there is, so whatever a held-out question needs has been taught
    assert taught == possible, sorted(possible - taught)[:10]
    assert len(needed) > 0.95 * len(possible)


def test_every_split_through_the_env_and_bad_split():
    for split in digits.SPLITS:
        env = gym.make("MathReasoning-v0", dataset="digits", split=split, num_questions=24, instruction="")
        obs, info = env.reset(seed=0)
        assert obs.startswith("What is ") and digits.split_of(obs) == split
        assert env.unwrapped.questions[info["question_id"]].source == "digits"
    qs = load_questions("digits", "test", num_questions=24, levels=[1, 2])
    assert {q.difficulty for q in qs} == {1, 2}
    with pytest.raises(ValueError, match="splits"):
        load_questions("digits", "validation", num_questions=5)
    with pytest.raises(ValueError, match="levels must be chosen"):
        digits.generate(5, levels=[0, 13])


def test_a_warm_start_on_digits_reads_the_sft_split_only(tmp_path, monkeypatch):
    from agents.models.warm_start import WARM_START_DATASETS, settings_hash, warm_start, warm_start_info

    monkeypatch.setenv("MATHENV_CACHE", str(tmp_path / "cache"))
    assert WARM_START_DATASETS["digits"] == (digits, "sft")
    small = dict(levels=[1, 2], steps=30, batch_size=8, lr=1e-2, warmup=3, n_layer=1, d_model=32, n_head=2)
    path = warm_start(**small, dataset="digits", progress=False, threads=None)
    info = warm_start_info(path)
    assert info["settings"]["dataset"] == "digits"
    assert info["loss_last"] < 0.8 * info["loss_first"]
    # an arithmetic warm start keeps the settings (and so the cache folder) it had before datasets existed
    arithmetic = {**info["settings"], "levels": [1, 2]}
    arithmetic.pop("dataset")
    assert path.name != f"testbed-{settings_hash(arithmetic)}"
    with pytest.raises(ValueError, match="a warm start trains on"):
        warm_start(**small, dataset="gsm8k", progress=False, threads=None)


def test_distinct_draws_give_each_text_of_a_level_once_until_its_split_runs_out():
    """A warm start reading most of a small level (level 3: 7,200 texts) drew about 40% of its seen texts twice
    or more; `distinct` redraws those, and repeats only once the level's split is spent (level 2, 4,095 texts)."""
    plain = digits.generate(3000, seed=0, levels=[3], split="sft")
    once = digits.generate(3000, seed=0, levels=[3], split="sft", distinct=True)
    assert len({q.question for q in plain}) < 2900  # the plain draw repeats
    assert len({q.question for q in once}) == 3000
    assert all(digits.split_of(q.question) == "sft" for q in once)
    spent = digits.generate(
        3000, seed=0, levels=[2], split="sft", distinct=True
    )  # more than level 2's sft texts
    assert len({q.question for q in spent}) < 3000 <= len(spent)
    assert [q.question for q in digits.generate(50, seed=1, levels=[3, 4])] == [
        q.question for q in digits.generate(50, seed=1, levels=[3, 4], distinct=False)
    ]  # the default is the plain draw
