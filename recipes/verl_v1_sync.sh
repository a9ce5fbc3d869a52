#!/usr/bin/env bash
# verl v1, synchronous (trainer.v1.trainer_mode=sync): GRPO on GSM8K with a curriculum choosing the questions,
# on one GPU. Run from the repository root; extra Hydra overrides go at the end:
#
#     python -m integrations.verl.main prepare gsm8k --out $HOME/data/gsm8k     # once: the parquet files
#     bash recipes/verl_v1_sync.sh trainer.total_training_steps=100
#
# 32 questions x 8 attempts per step. CURRICULUM=uniform bash ... for the baseline; a curriculum's options go
# at the end (+curriculum.preset=fast: learnability refreshes every 10 steps from 128 candidates).
# The reward is recipes/math_reward.py:compute_score (mathenv's verifier): edit that file, not this one.
# tests/test_recipes.py validates every key below against verl's config (no GPU was lent to run it here).
set -euo pipefail
MODEL=${MODEL:-Qwen/Qwen2.5-0.5B-Instruct}
DATA=${DATA:-$HOME/data/gsm8k}
CURRICULUM=${CURRICULUM:-learnability}
OUT=${OUT:-checkpoints/verl_v1_sync_$CURRICULUM}
python -m integrations.verl.main \
    algorithm.adv_estimator=grpo \
    data.train_files=$DATA/train.parquet \
    data.val_files=$DATA/test.parquet \
    data.train_batch_size=32 \
    data.max_prompt_length=512 \
    data.max_response_length=512 \
    actor_rollout_ref.model.path=$MODEL \
    actor_rollout_ref.actor.optim.lr=1e-6 \
    actor_rollout_ref.actor.ppo_mini_batch_size=16 \
    actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=8 \
    actor_rollout_ref.rollout.name=vllm \
    actor_rollout_ref.rollout.n=8 \
    actor_rollout_ref.rollout.gpu_memory_utilization=0.5 \
    actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=16 \
    reward.custom_reward_function.path=recipes/math_reward.py \
    reward.custom_reward_function.name=compute_score \
    trainer.v1.trainer_mode=sync \
    trainer.n_gpus_per_node=1 \
    trainer.nnodes=1 \
    trainer.total_training_steps=60 \
    trainer.save_freq=30 \
    trainer.test_freq=30 \
    trainer.logger=[console] \
    trainer.default_local_dir=$OUT \
    trainer.project_name=mathenv \
    trainer.experiment_name=verl_v1_sync_$CURRICULUM \
    +curriculum.name=$CURRICULUM \
    +curriculum.seed=0 \
    "$@"
