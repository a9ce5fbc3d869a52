#!/usr/bin/env bash
# verl v1, asynchronous on one GPU (trainer.v1.trainer_mode=colocate_async): rollouts of the next steps run
# while the policy trains; groups that finish more than 2 policy versions after their prompt went out are
# dropped (the curriculum counts them as never finished). Run from the repository root:
#
#     python -m integrations.verl.main prepare gsm8k --out $HOME/data/gsm8k     # once: the parquet files
#     bash recipes/verl_v1_async.sh trainer.total_training_steps=100
#
# CURRICULUM=uniform for the baseline; a curriculum's options go at the end (+curriculum.preset=fast). On
# several GPUs with a standalone rollout pool, recipes/verl_v1_separate_async.sh. The reward is
# recipes/math_reward.py:compute_score. tests/test_recipes.py validates every key below against verl's config
# and builds verl's colocate_async trainer from it (no GPU was lent to run it here).
set -euo pipefail
MODEL=${MODEL:-Qwen/Qwen2.5-0.5B-Instruct}
DATA=${DATA:-$HOME/data/gsm8k}
CURRICULUM=${CURRICULUM:-learnability}
OUT=${OUT:-checkpoints/verl_v1_async_$CURRICULUM}
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
    trainer.v1.trainer_mode=colocate_async \
    trainer.v1.colocate_async.num_warmup_batches=1 \
    trainer.v1.sampler.max_off_policy_threshold=2 \
    trainer.v1.sampler.max_off_policy_strategy=drop \
    trainer.n_gpus_per_node=1 \
    trainer.nnodes=1 \
    trainer.total_training_steps=60 \
    trainer.save_freq=30 \
    trainer.test_freq=30 \
    trainer.logger=[console] \
    trainer.default_local_dir=$OUT \
    trainer.project_name=mathenv \
    trainer.experiment_name=verl_v1_async_$CURRICULUM \
    +curriculum.name=$CURRICULUM \
    +curriculum.seed=0 \
    "$@"
