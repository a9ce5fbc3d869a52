"""Every loader: the generated default always; GSM8K and MATH from ../shared/data; the hub error path."""

import json
import operator

import pytest

from mathenv import DatasetUnavailableError, load_questions
from mathenv.arithmetic import generate, split_of
from mathenv.verify import score


def test_arithmetic_is_deterministic_and_spans_levels():
    a = generate(200, seed=5)
    b = generate(200, seed=5)
    assert a == b
    assert generate(200, seed=6) != a
    assert generate(200, seed=5, split="test") != a
    assert {q.difficulty for q in a} == set(range(1, 11))
    assert len({q.uid for q in a}) == 200


def test_arithmetic_solutions_reach_the_gold_answer():
    # each worked solution is a valid response: the verifier scores it correct against its own answer
    for q in generate(300, seed=1):
        assert score(q.solution, q.answer, last_number=False).correct, q
        # and every step line holds true arithmetic
        for line in q.solution.splitlines()[:-1]:
            lhs, rhs = line.split(" = ")
            a, op, b = lhs.split(" ")
            value = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}[op](
                int(a), int(b)
            )
            assert value == int(rhs), line


def test_arithmetic_levels_option_and_bad_levels():
    qs = load_questions("arithmetic", num_questions=50, levels=[1, 2])
    assert {q.difficulty for q in qs} == {1, 2}
    with pytest.raises(ValueError, match="levels must be chosen from 1..10"):
        generate(10, levels=[0, 11])


def test_gsm8k_from_local_jsonl(data_dir):
    qs = load_questions("gsm8k", "test", data_path=data_dir / "gsm8k" / "test.jsonl")
    assert len(qs) == 1319
    assert all(q.source == "gsm8k" and q.difficulty is None and "####" in q.solution for q in qs)
    assert all("," not in q.answer and q.answer.lstrip("-").replace(".", "").isdigit() for q in qs)
    # answer equals what follows #### in the original row
    first = json.loads((data_dir / "gsm8k" / "test.jsonl").read_text().splitlines()[0])
    assert qs[0].answer == first["answer"].split("####")[1].strip().replace(",", "")


def test_math500_from_local_jsonl(data_dir):
    qs = load_questions("math500", "test", data_path=data_dir / "math" / "math500_test.jsonl")
    assert len(qs) == 500
    assert {q.difficulty for q in qs} == {1, 2, 3, 4, 5}
    assert len({q.subject for q in qs}) == 7
    assert qs[0].uid.startswith("test/")


def test_math_loader_reads_boxed_answer_when_no_answer_field(tmp_path, math500_rows):
    # the full MATH training set (hub: EleutherAI/hendrycks_math) has no `answer` field: it comes from \boxed{}
    path = tmp_path / "math_train.jsonl"
    rows = [
        {
            "problem": r["problem"],
            "solution": r["solution"],
            "level": f"Level {r['level']}",
            "type": r["subject"],
        }
        for r in math500_rows[:20]
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    qs = load_questions("math", "train", data_path=path)
    assert [q.difficulty for q in qs] == [r["level"] for r in math500_rows[:20]]
    assert all(
        score(f"\\boxed{{{q.answer}}}", r["answer"]).correct for q, r in zip(qs, math500_rows, strict=False)
    )


def test_any_jsonl_with_a_field_mapping(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_text('{"q": "1+1?", "a": "2", "lvl": 1}\n{"q": "2+2?", "a": "#### 4", "lvl": 2}\n')
    qs = load_questions(str(path), question_field="q", answer_field="a", difficulty_field="lvl")
    assert [(q.question, q.answer, q.difficulty) for q in qs] == [("1+1?", "2", 1), ("2+2?", "4", 2)]
    with pytest.raises(ValueError, match="question_field= and answer_field="):
        load_questions(str(path))
    with pytest.raises(ValueError, match="mine.jsonl:1: no field 'question'"):
        load_questions(str(path), question_field="question", answer_field="a")


def test_bad_files_name_the_problem(tmp_path):
    with pytest.raises(DatasetUnavailableError, match="does not exist"):
        load_questions("gsm8k", data_path=tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "x"}\nnot json\n')
    with pytest.raises(DatasetUnavailableError, match=r"bad.jsonl:2"):
        load_questions("gsm8k", data_path=bad)
    with pytest.raises(ValueError, match="splits"):
        load_questions("gsm8k", "validation", data_path=bad)


def test_unreachable_hub_says_how_to_pass_a_local_file(monkeypatch):
    # the real `datasets.load_dataset` call, made offline: its failure must become one clear error
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(DatasetUnavailableError) as err:
        load_questions("gsm8k", "train")
    message = str(err.value)
    assert "openai/gsm8k" in message and "data_path=" in message and "gym.make('MathReasoning-v0'" in message
    assert "--data-path" in message and "\n" not in message  # what a command-line user passes, on one line


def test_a_named_dataset_of_your_own_reads_its_data_path(tmp_path, monkeypatch):
    # offline: were the path ignored, the hub lookup of "mydata" would fail
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    path = tmp_path / "f.jsonl"
    path.write_text('{"q": "1+1?", "a": "2"}\n{"q": "2+3?", "a": "5"}\n')
    qs = load_questions("mydata", data_path=path, question_field="q", answer_field="a")
    assert [(q.uid, q.answer) for q in qs] == [("mydata/train/0", "2"), ("mydata/train/1", "5")]


def test_rows_without_a_gold_answer_are_skipped_and_counted(tmp_path):
    path = tmp_path / "nulls.jsonl"
    path.write_text(
        '{"q": "1+1?", "a": "2"}\n{"q": "x?", "a": null}\n\n{"q": "y?", "a": ""}\n{"q": "3+3?", "a": 6}\n'
    )
    with pytest.warns(UserWarning, match=r"skipped 2 of 4 rows with no gold answer .*nulls.jsonl:2"):
        qs = load_questions(str(path), question_field="q", answer_field="a")
    assert [q.answer for q in qs] == ["2", "6"] and "None" not in [q.answer for q in qs]
    gsm = tmp_path / "gsm.jsonl"
    gsm.write_text('{"question": "x?", "answer": null}\n{"question": "1+1?", "answer": "1+1=2\\n#### 2"}\n')
    with pytest.warns(UserWarning, match="skipped 1 of 2"):
        assert [q.answer for q in load_questions("gsm8k", data_path=gsm)] == ["2"]


def test_non_utf8_file_names_the_file_and_line(tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes('{"q": "1+1?", "a": "2"}\n{"q": "caf\u00e9?", "a": "3"}\n'.encode("latin-1"))
    with pytest.raises(DatasetUnavailableError, match=r"latin1.jsonl:2 is not UTF-8 text.*re-save"):
        load_questions(str(path), question_field="q", answer_field="a")


def test_a_file_in_another_format_names_the_fields_needed_and_found(tmp_path, gsm8k_test_rows):
    from mathenv.datasets import DatasetFormatError

    path = tmp_path / "gsm8k_test.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in gsm8k_test_rows[:3]))
    with pytest.raises(DatasetFormatError) as err:
        load_questions("math500", "test", data_path=path)
    message = str(err.value)
    assert "gsm8k_test.jsonl:1" in message and "'problem'" in message and "['answer', 'question']" in message
    assert "use dataset 'gsm8k'" in message


@pytest.mark.parametrize("level", range(1, 11))
def test_arithmetic_train_and_test_never_share_a_question(level):
    # held-out means never in the training pool: at any size and seed, for every level (levels 1-2 have only
    # 100 and 155 texts, so a large pool draws every training text of theirs)
    train = {q.question for seed in (0, 1) for q in generate(3000, seed=seed, levels=[level], split="train")}
    test = {q.question for seed in (0, 7) for q in generate(1000, seed=seed, levels=[level], split="test")}
    assert train and test
    assert not train & test
    assert all(split_of(t) == "train" for t in train) and all(split_of(t) == "test" for t in test)


def test_the_testbed_pools_are_disjoint():
    # the pools of the earlier grid: 20,000 training questions of levels 1-6 against the 2,000 held out (1,398
    # of which were training questions before the split was made by text)
    train = {q.question for q in generate(20_000, levels=range(1, 7), split="train")}
    test = [q.question for q in generate(2_000, levels=range(1, 7), split="test")]
    assert sum(t in train for t in test) == 0


def test_arithmetic_has_two_splits():
    with pytest.raises(ValueError, match="splits"):
        generate(10, split="validation")
