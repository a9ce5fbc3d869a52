"""Named run settings (`python -m agents.train --preset NAME`), defined once for the trainer's command line
and the experiment grids (research.experiments, scripts/reproduce.py, scripts/sweep_baseline.py).

`paper` is the paper's configuration (needs a GPU and the hub); `testbed` the settings of the testbed grid in
docs/results.md, frozen from the uniform-only sweep (scripts/sweep_baseline.py, stage A, setting A8, picked by
its pre-declared rule) before any curriculum ran on them.
"""

from __future__ import annotations

from typing import Any

from agents.models.warm_start import TESTBED_INSTRUCTION

#: the testbed: the warm-started 0.5M-parameter policy (agents.models.warm_start) prompted with the bare question as it
#: was trained; lr 1e-4 with 10% warmup and cosine decay, 16 fresh questions per step from a 20,000-question
#: pool, 120 updates; about 2-3 s a step on one CPU core
TESTBED: dict[str, Any] = {
    "model": "testbed",
    "instruction": TESTBED_INSTRUCTION,
    "levels": [1, 2, 3, 4, 5, 6],
    "num_questions": 20_000,
    "steps": 120,
    "questions_per_step": 16,
    "attempts_per_question": 8,
    "max_new_tokens": 64,
    "learning_rate": 1e-4,
    "warmup_ratio": 0.1,
    "lr_schedule": "cosine",
    "kl_coef": 0.0,
    "temperature": 1.0,
    "eval_every": 20,
    "eval_questions": 200,
    "eval_samples": 2,
    "checkpoint_every": 20,
    "micro_batch_size": 64,
    "generation_batch_size": 128,
}

#: the real model (SmolLM2-135M-Instruct) on arithmetic levels 1-3 on a 2-core CPU: the longest grid that fits
#: about two hours there (3 curricula x 3 seeds x 12 steps of 8 questions x 4 attempts, two runs at a time)
SMOLLM2_CPU: dict[str, Any] = {
    "model": "smollm2",
    "dataset": "arithmetic",
    "levels": [1, 2, 3],
    "num_questions": 1000,
    "steps": 12,
    "questions_per_step": 8,
    "attempts_per_question": 4,
    "max_new_tokens": 64,
    "learning_rate": 1e-5,
    "lr_schedule": "constant",
    "kl_coef": 0.0,
    "temperature": 1.0,
    "eval_every": 6,
    "eval_questions": 64,
    "eval_samples": 1,
    "checkpoint_every": 6,
    "micro_batch_size": 8,
    "generation_batch_size": 32,
}

#: the pre-registered test (docs/preregistration.md): a fixed 640-question pool revisited for 5 epochs (200
#: iterations of 16 x 8), GRPO with 2 epochs x 4 minibatches per iteration, KL 1e-4, 3% warmup then linear
#: decay, sampling at temperature 0.6 / top-p 0.9, held-out answers at 0.35; the warm start (6,000 steps) and the
#: learning rate chosen by the rules written there (the rate by scripts/faithful.py's uniform-only pre-sweep)
FAITHFUL: dict[str, Any] = {
    "algo": "grpo",
    "model": "testbed-6000",
    "instruction": TESTBED_INSTRUCTION,
    "levels": [1, 2, 3, 4, 5, 6],
    "num_questions": 640,
    "steps": 200,
    "questions_per_step": 16,
    "attempts_per_question": 8,
    "max_new_tokens": 64,
    "temperature": 0.6,
    "top_p": 0.9,
    "epochs": 2,
    "minibatches": 4,
    "kl_coef": 1e-4,
    "kl_aggregation": "sequence_sum",
    "clip_coef": 0.2,
    "learning_rate": 3e-4,
    "warmup_ratio": 0.03,
    "lr_schedule": "linear",
    "max_grad_norm": 1.0,
    "eval_every": 25,
    "eval_questions": 200,
    "eval_samples": 4,
    "eval_temperature": 0.35,
    "eval_top_p": 1.0,
    "checkpoint_every": 25,
    "micro_batch_size": 64,
    "generation_batch_size": 256,
}

#: the digits testbed (issue 32, docs/preregistration-2.md): the warm start of `testbed-digits` (trained on the
#: `sft` split of mathenv.digits only), a fixed pool of the `train` split, held-out answers on the `test` split;
#: GRPO with one update per iteration. The pool's levels 3-9 hold the warm start's 0.1 < p < 0.9 mass (34% of the
#: pool, scripts/start_distribution.py); lr 1e-3 collapsed the policy within 40 iterations (docs/results.md
#: section 6); at 3e-4 uniform raised held-out mean@4 by 6.2 and 7.6 points (seeds 900, 901: the transfer gate);
#: about 0.9 CPU-s an iteration (docs/benchmarks.md, "Testbed iteration").
DIGITS: dict[str, Any] = {
    "algo": "grpo",
    "model": "testbed-digits",
    "dataset": "digits",
    "instruction": TESTBED_INSTRUCTION,
    "levels": [3, 4, 5, 6, 7, 8, 9],
    "num_questions": 640,
    "steps": 200,
    "questions_per_step": 16,
    "attempts_per_question": 8,
    "max_new_tokens": 96,
    "temperature": 0.6,
    "top_p": 0.9,
    "epochs": 1,
    "minibatches": 1,
    "kl_coef": 0.0,
    "clip_coef": 0.2,
    "learning_rate": 3e-4,
    "warmup_ratio": 0.03,
    "lr_schedule": "linear",
    "max_grad_norm": 1.0,
    "eval_every": 100,
    "eval_questions": 200,
    "eval_samples": 4,
    "eval_temperature": 0.35,
    "eval_top_p": 1.0,
    "checkpoint_every": 25,
    "micro_batch_size": 128,
    "generation_batch_size": 256,
}

#: named run settings for `--preset`
RUN_PRESETS: dict[str, dict[str, Any]] = {
    "cpu": {},
    "testbed": TESTBED,
    "faithful": FAITHFUL,
    "digits": DIGITS,
    "smollm2-cpu": SMOLLM2_CPU,
    "tiny": {
        "model": "tiny",
        "max_new_tokens": 24,
        "questions_per_step": 8,
        "attempts_per_question": 4,
        "learning_rate": 1e-3,
        "eval_questions": 32,
        "eval_every": 5,
        "steps": 20,
        "levels": [1],
        "kl_coef": 0.0,
    },
    # generation_batch_size 512: all of a step's attempts in one generate call (on an H200, HF generation of
    # SmolLM2 took 1.8 s for 64 sequences and 2.8 s for 512: docs/benchmarks.md, "Generation")
    "gpu": {
        "model": "qwen2.5-0.5b",
        "dataset": "gsm8k",
        "levels": None,
        "questions_per_step": 64,
        "attempts_per_question": 8,
        "max_new_tokens": 512,
        "learning_rate": 1e-6,
        "steps": 500,
        "micro_batch_size": 16,
        "minibatches": 4,
        "generation_batch_size": 512,
        "eval_questions": 500,
        "eval_every": 25,
        "checkpoint_every": 25,
        "curriculum": "learnability",
        "curriculum_options": {"preset": "fast"},
    },
    # the VinePPO reference (configs/polIter_rho1bSft2_*): 512 episodes per iteration in 8 minibatches of 64, 2
    # epochs, lr 1e-6 with 3% warmup then linear decay, temperature 0.6 with top_p 0.9, KL 1e-4 in the loss
    "paper": {
        "model": "rho-1b-gsm8k",
        "dataset": "gsm8k",
        "levels": None,
        "questions_per_step": 64,
        "attempts_per_question": 8,
        "max_new_tokens": 1024,
        "temperature": 0.6,
        "top_p": 0.9,
        "learning_rate": 1e-6,
        "warmup_ratio": 0.03,
        "lr_schedule": "linear",
        "steps": 1000,
        "micro_batch_size": 16,
        "minibatches": 8,
        "epochs": 2,
        "kl_coef": 1e-4,
        "generation_batch_size": 512,
        "eval_questions": 1319,
        "eval_every": 50,
        "checkpoint_every": 50,
        "curriculum": "learnability",
        "curriculum_options": {"preset": "recommended"},
    },
}
