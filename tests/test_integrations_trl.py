"""integrations.trl.trainer and integrations.trl.sampler against the installed trl: a real GRPOTrainer on CPU with a tiny random model.

The model is a 1-layer Llama with a byte-level tokenizer built here (no hub). Its completions are noise, so
the curriculum learns from a simulated learner's reward (success rate known per question) while our
verifier scores the same completions as a second, zero-weight reward function.
"""

import importlib.util

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("trl") is None,
    reason="trl not installed: pip install -e '.[trl]' 'torch==2.13.0'",
)

P_BY_MOD3 = (0.0, 0.5, 1.0)  # the simulated learner: success probability by question id % 3
POOL, B, G = 48, 4, 4  # questions, prompts per generation batch, num_generations


def known_learner(prompts, completions, question_id, trainer_state, **kwargs):
    rng = np.random.default_rng([trainer_state.global_step, 3])  # same rewards at the same step on resume
    p = np.array([P_BY_MOD3[q % 3] for q in question_id])
    return (rng.random(len(p)) < p).astype(float).tolist()


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # a 1-layer 16-wide model: thread start-up dominates every op (about 7x slower with 2 threads here)
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def tiny():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    vocab = {c: i for i, c in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    vocab.update({"<pad>": len(vocab), "<eos>": len(vocab) + 1})
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>", pad_token="<pad>")

    def model():
        import torch

        torch.manual_seed(0)
        cfg = LlamaConfig(
            vocab_size=len(vocab),
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=2,
            max_position_embeddings=256,
            pad_token_id=vocab["<pad>"],
            eos_token_id=vocab["<eos>"],
            bos_token_id=None,
        )
        return LlamaForCausalLM(cfg)

    return tokenizer, model


def make_trainer(tiny, out_dir, max_steps, name="learnability", reward=known_learner, **curriculum_options):
    from trl import GRPOConfig

    import curricula
    from integrations.trl.trainer import CurriculumGRPOTrainer
    from mathenv import load_questions
    from mathenv.export import grpo_dataset
    from mathenv.rewards import mathenv_reward

    tokenizer, model = tiny
    data = grpo_dataset(
        load_questions("arithmetic", num_questions=POOL, seed=1), instruction="", conversational=False
    )
    opts = (
        dict(refresh_every=3, num_candidates=8, buffer_size=4, probe_attempts=4)
        if name == "learnability"
        else {}
    )
    opts["batch_size"] = B
    opts.update(curriculum_options)
    cur = curricula.make(name, POOL, seed=0, **opts)
    args = GRPOConfig(
        output_dir=str(out_dir),
        per_device_train_batch_size=8,
        steps_per_generation=2,
        num_generations=G,
        max_completion_length=6,
        max_steps=max_steps,
        learning_rate=1e-3,
        save_strategy="steps",
        save_steps=4,
        logging_steps=1,
        report_to="none",
        use_cpu=True,
        seed=0,
        disable_tqdm=True,
        dataloader_num_workers=0,
        reward_weights=[1.0, 0.0],
    )
    trainer = CurriculumGRPOTrainer(
        model=model(),
        args=args,
        processing_class=tokenizer,
        train_dataset=data,
        reward_funcs=[reward, mathenv_reward],
        curriculum=cur,
    )
    seen = []  # every generation batch the curriculum heard about: (phase, question ids, rewards)
    if trainer.curriculum_schedule is None:  # per-question attempts: no schedule (see test_per_question_...)
        return trainer, seen
    report = trainer.curriculum_schedule.report

    def spy(ids, rewards):
        fb = report(ids, rewards)
        seen.append((fb.phase, np.asarray(ids).tolist(), np.asarray(rewards).tolist()))
        return fb

    trainer.curriculum_schedule.report = spy
    return trainer, seen


def test_grpo_trainer_feeds_the_curriculum_every_reward_and_follows_it(tiny, tmp_path):
    trainer, seen = make_trainer(tiny, tmp_path, max_steps=20)
    trainer.train()
    cur = trainer.curriculum
    # 20 steps x 8 completions = 10 generation batches of 4 prompts x 4 completions, all reported
    assert [phase for phase, _, _ in seen] == ["probe", "probe", "train", "train", "train"] * 2
    assert cur.attempts.sum() == 10 * B * G and np.isfinite(np.asarray([r for *_, r in seen])).all()
    assert cur.diagnostics()["curriculum/probe_attempts"] == 4 * B * G
    # the buffer holds questions the learner solves half the time; training batches favour them
    positive = cur.buffer[cur.buffer_learnability > 0]
    assert positive.size and all(q % 3 == 1 for q in positive)
    train_ids = np.concatenate([ids for phase, ids, _ in seen if phase == "train"])
    assert np.mean(train_ids % 3 == 1) > 0.5  # uniform would give 1/3
    logged = [h for h in trainer.state.log_history if "curriculum/probe_batch" in h]
    assert logged and "curriculum/buffer_size" in logged[-1]

    # resume from checkpoint-8 (a generation-batch boundary): the same batches as straight through
    assert (tmp_path / "checkpoint-8" / "curriculum.pt").exists()
    resumed, seen2 = make_trainer(tiny, tmp_path, max_steps=20)
    resumed.train(resume_from_checkpoint=str(tmp_path / "checkpoint-8"))
    assert [(p, ids) for p, ids, _ in seen2] == [(p, ids) for p, ids, _ in seen[4:]]
    assert np.array_equal(resumed.curriculum.attempts, cur.attempts)


def test_probe_rows_get_zero_advantage(tiny, tmp_path):
    trainer, seen = make_trainer(tiny, tmp_path, max_steps=2)
    out = {}
    generate = trainer._generate_and_score_completions

    def spy(inputs):
        out["batch"] = generate(inputs)
        return out["batch"]

    trainer._generate_and_score_completions = spy
    trainer.train()
    phase, _, rewards = seen[0]
    assert phase == "probe" and np.ptp(rewards, axis=1).any()  # GRPO alone would give non-zero advantages
    assert float(out["batch"]["advantages"].abs().sum()) == 0.0


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("zero_variance_filter", {}),
        ("learnability_filter", {"ratio": 2, "batch_size": 2}),
        ("greso", {}),
        ("pass_rate_band", {}),
    ],
)
def test_filters_train_on_exactly_the_kept_groups(tiny, tmp_path, name, options):
    trainer, _ = make_trainer(tiny, tmp_path, max_steps=6, name=name, **options)
    cur = trainer.curriculum
    reports = []  # every generation batch the curriculum scored: through the schedule or drawn to fill a batch
    report = cur.report

    def spy(ids, rewards, phase="train"):
        fb = report(ids, rewards, phase)
        reports.append((np.asarray(rewards), fb))
        return fb

    cur.report = spy
    batches = []
    generate = trainer._generate_and_score_completions

    def outer(inputs):
        batches.append(generate(inputs))
        return batches[-1]

    trainer._generate_and_score_completions = outer
    trainer.train()
    kept = cur.batch_size
    assert len(batches) == 3 == cur.iteration  # 6 steps, 2 per generation batch: each one a full batch
    for out in batches:
        assert out["completion_ids"].shape[0] == out["advantages"].shape[0] == kept * G
        assert int(out["num_items_in_batch"]) == int(out["completion_mask"].sum())
    kept_rewards = np.concatenate([r[fb.keep] for r, fb in reports])
    assert kept_rewards.shape == (3 * kept, G)
    if name == "zero_variance_filter":
        assert (np.ptp(kept_rewards, axis=1) > 0).all()  # only informative groups
        assert len(reports) > 3  # more generation batches than steps: DAPO drew until each batch was full
    assert sum(fb.done for _, fb in reports) == 3 and reports[-1][1].done
    diag = cur.diagnostics()
    assert diag["curriculum/train_attempts"] == len(reports) * cur.request_size * G  # all generations count
    assert diag["curriculum/discarded_attempts"] == diag["curriculum/train_attempts"] - 3 * kept * G


def first_group_splits(prompts, completions, question_id, trainer_state, **kwargs):
    """Hard questions: nothing solved, except that the first group of each generation batch is split."""
    return [float(i % G == 0 and i < G) for i in range(len(question_id))]


@pytest.mark.parametrize(
    ("reward", "kept"), [(first_group_splits, 2), (lambda **kw: [0.0] * len(kw["completions"]), 0)]
)
def test_a_short_or_empty_dapo_batch_trains_on_what_the_cap_allows(tiny, tmp_path, reward, kept):
    # early training on hard data: the cap (2 generation batches) ends a batch with fewer than B groups,
    # or none (TRL 1.16 failed with "range() arg 3 must not be zero" on the 0 rows merged)
    trainer, _ = make_trainer(
        tiny, tmp_path, max_steps=4, name="zero_variance_filter", reward=reward, max_num_gen_batches=2
    )
    batches = []
    generate = trainer._generate_and_score_completions

    def outer(inputs):
        batches.append(generate(inputs))
        return batches[-1]

    trainer._generate_and_score_completions = outer
    with pytest.warns(UserWarning, match=f"kept only {kept} of {B} informative groups"):
        trainer.train()
    assert len(batches) == 2 == trainer.curriculum.iteration
    for out in batches:  # B groups, so TRL's slices hold; the filled-in rows are out of the loss
        assert out["completion_ids"].shape[0] == B * G
        assert (
            int(out["completion_mask"][kept * G :].sum())
            == 0
            == float(out["advantages"][kept * G :].abs().sum())
        )
        assert int(out["num_items_in_batch"]) == int(out["completion_mask"][: kept * G].sum())
        assert (out["completion_mask"][: kept * G].sum(1) > 0).all()
    masked = [
        h["curriculum/masked_groups"] for h in trainer.state.log_history if "curriculum/masked_groups" in h
    ]
    assert masked == [B - kept] * 2


def test_posterior_through_trl_trains_every_generation_batch(tiny, tmp_path):
    trainer, seen = make_trainer(tiny, tmp_path, max_steps=8, name="posterior")
    trainer.train()
    cur = trainer.curriculum
    assert [phase for phase, _, _ in seen] == ["train"] * 4 and cur.iteration == 4
    assert cur.attempts.sum() == 4 * B * G and cur.diagnostics()["curriculum/probe_attempts"] == 0
    logged = [h for h in trainer.state.log_history if "curriculum/picked_learnability" in h]
    assert logged


@pytest.mark.parametrize(
    ("name", "options"), [("adarft", {"difficulty": np.arange(POOL) % 5}), ("mopps", {"ratio": 4})]
)
def test_selectors_without_filtering_train_every_generation_batch(tiny, tmp_path, name, options):
    trainer, seen = make_trainer(tiny, tmp_path, max_steps=8, name=name, **options)
    trainer.train()
    cur = trainer.curriculum
    assert [phase for phase, _, _ in seen] == ["train"] * 4 and cur.iteration == 4
    assert cur.attempts.sum() == 4 * B * G == cur.diagnostics()["curriculum/train_attempts"]
    if name == "adarft":  # the target moved with each batch's mean reward
        key = "curriculum/target_difficulty"
        assert len({h[key] for h in trainer.state.log_history if key in h}) > 1


def alternating():
    """A curriculum whose requests ask 2G attempts of even questions and G of odd ones."""
    from curricula.protocol import Request
    from curricula.uniform import Uniform

    class Alternating(Uniform):
        name = "alternating"
        per_question_attempts = True

        def _train_request(self, n=None):
            ids = self._sample(n)
            return Request("train", ids, np.where(ids % 2 == 0, 2 * G, G))

    return Alternating


@pytest.mark.parametrize("name", ["speed", "alternating"])
def test_per_question_attempts_through_grpo_trainer(tiny, tmp_path, monkeypatch, name):
    """A curriculum that asks per-question attempt counts under TRL's GRPOTrainer: each question is generated
    by TRL's own code exactly as often as asked, every attempt is reported once, and each kept group is
    trained with GRPO's advantage over all its attempts: an 8-attempt group has one mean, not two of 4, and
    SPEED's screening group (held, 0 < solved < N_init) joins its continuation as one group of N."""
    import torch
    from trl.trainer.utils import nanstd

    import curricula

    monkeypatch.setitem(curricula.CURRICULA, "alternating", alternating())
    opts = {"group_size": 2 * G, "screen_attempts": G} if name == "speed" else {}
    trainer, _ = make_trainer(tiny, tmp_path, max_steps=6, name=name, **opts)
    cur = trainer.curriculum
    reports = []  # (request, rewards, feedback) of every report
    next_request, report = cur.next_request, cur.report
    requests = []

    def request_spy(*a, **k):
        requests.append(next_request(*a, **k))
        return requests[-1]

    def report_spy(ids, rewards, phase="train", **k):
        fb = report(ids, rewards, phase, **k)
        reports.append((requests[len(reports)], np.asarray(rewards), fb))
        return fb

    cur.next_request, cur.report = request_spy, report_spy
    generated = []  # question id of every completion TRL scored
    calculate = trainer._calculate_rewards

    def rewards_spy(inputs, *a):
        generated.extend(int(x["question_id"]) for x in inputs)
        return calculate(inputs, *a)

    trainer._calculate_rewards = rewards_spy
    batches = []
    generate = trainer._generate_and_score_completions

    def outer(inputs):
        batches.append(generate(inputs))
        return batches[-1]

    trainer._generate_and_score_completions = outer
    trainer.train()
    assert len(batches) == 3 == cur.iteration  # 6 steps, 2 per generation batch
    asked = [
        q
        for req, _, _ in reports
        for q, k in zip(req.question_ids, req.counts(G), strict=True)
        for _ in range(k)
    ]
    assert generated == asked  # TRL generated exactly the attempts asked, in request order
    assert cur.attempts.sum() == len(generated) == cur.diagnostics()["curriculum/train_attempts"]
    expected, held = [], {}  # the advantages of the kept groups, from the reported rewards
    for req, rewards, fb in reports:
        counts = req.counts(G)
        for i, q in enumerate(req.question_ids.tolist()):
            r = rewards[i, : counts[i]]
            if fb.held()[i]:
                assert 0 < r.sum() < G == counts[i]  # SPEED's screening: N_init = G attempts, qualified
                held[q] = r
            elif fb.keep[i]:
                group = torch.tensor(np.concatenate([held.pop(q), r]) if req.continuing()[i] else r).float()
                assert len(group) == (2 * G if name == "speed" or q % 2 == 0 else G)
                expected.append((group - group.mean()) / (nanstd(group) + 1e-4))
    trained = torch.cat([b["advantages"] for b in batches])
    assert len(trained) == sum(len(e) for e in expected)  # no masked rows: every batch splits in 2
    assert np.allclose(trained.numpy(), torch.cat(expected).numpy(), atol=1e-5)
    if name == "speed":
        assert all(len(b["advantages"]) == cur.batch_size * 2 * G for b in batches)


def test_per_question_attempts_need_multiples_of_num_generations(tiny, tmp_path):
    with pytest.raises(ValueError, match="speed's screen_attempts=2 is not a multiple of num_generations=4"):
        make_trainer(tiny, tmp_path, max_steps=2, name="speed", group_size=8, screen_attempts=2)


def test_verifier_reward_on_text_and_conversational_completions():
    from mathenv import Question
    from mathenv.export import grpo_dataset
    from mathenv.rewards import make_mathenv_reward, mathenv_reward

    completions = [
        "so the answer is \\boxed{72}",
        [{"role": "assistant", "content": "48 + 24 = 72\n#### 72"}],
        [{"role": "assistant", "content": [{"type": "text", "text": "I think 71."}]}],
        "no idea",
    ]
    assert mathenv_reward(prompts=[""] * 4, completions=completions, answer=["72"] * 4) == [
        1.0,
        1.0,
        0.0,
        0.0,
    ]
    strict = make_mathenv_reward("gold", format_penalty=0.5, last_number=False)
    assert strict.__name__ == "mathenv_correct"
    assert strict(prompts=[""] * 2, completions=["I think 72", "#### 72"], gold=["72", "72"]) == [-0.5, 1.0]
    with pytest.raises(KeyError, match="gold"):
        strict(prompts=[""], completions=["1"], answer=["1"])
    data = grpo_dataset([Question("q0", "What is 2+2?", "4", "t"), Question("q1", "And 3+3?", "6", "t")])
    assert data[1]["question_id"] == 1 and data[1]["prompt"][0]["role"] == "user" and data[1]["answer"] == "6"


def test_speed_under_trl_resumes_with_its_held_groups(tiny, tmp_path):
    """curriculum.pt holds SPEED's state and the rows of its held screening groups: resumed from a checkpoint
    with groups held, the run trains exactly the batches (row counts and advantages) of the straight run."""
    import torch

    def run(resume=None):
        trainer, _ = make_trainer(
            tiny,
            tmp_path,
            max_steps=8,
            name="speed",
            group_size=2 * G,
            screen_attempts=G,
            screen_batch_size=12,
        )
        batches = []  # the advantages of every trained generation batch
        generate = trainer._generate_and_score_completions

        def outer(inputs):
            out = generate(inputs)
            batches.append(out["advantages"])
            return out

        trainer._generate_and_score_completions = outer
        trainer.train(resume_from_checkpoint=resume)
        return trainer, batches

    straight, before = run()
    state = torch.load(tmp_path / "checkpoint-4" / "curriculum.pt", weights_only=False)
    assert state["held"]  # screening groups were held across the checkpoint
    resumed, after = run(str(tmp_path / "checkpoint-4"))
    assert len(before) == 4 and len(after) == 2
    for a, b in zip(before[2:], after, strict=True):
        assert torch.allclose(a, b)
    assert np.array_equal(resumed.curriculum.attempts, straight.curriculum.attempts)
