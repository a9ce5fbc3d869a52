#!/usr/bin/env bash
# verl v1, asynchronous with a standalone rollout pool (trainer.v1.trainer_mode=separate_async): one node,
# 4 GPUs training and 4 GPUs serving rollouts; the training GPUs lend themselves to rollout while the buffer
# holds too few groups the curriculum keeps (the hybrid switch asks the curriculum, not the raw buffer).
# Run from the repository root:
#
#     python -m integrations.verl.main prepare gsm8k --out $HOME/data/gsm8k     # once: the parquet files
#     bash recipes/verl_v1_separate_async.sh trainer.total_training_steps=100
#
# train_batch_size = parameter_sync_step x ppo_mini_batch_size, as verl requires. CURRICULUM=uniform for the
# baseline; a curriculum's options go at the end (+curriculum.preset=fast). The reward is
# recipes/math_reward.py:compute_score. tests/test_recipes.py validates every key below against verl's config
# and builds verl's separate_async trainer from it (no GPU was lent to run it here).
set -euo pipefail
MODEL=${MODEL:-Qwen/Qwen2.5-1.5B-Instruct}
DATA=${DATA:-$HOME/data/gsm8k}
CURRICULUM=${CURRICULUM:-learnability}
OUT=${OUT:-checkpoints/verl_v1_separate_async_$CURRICULUM}
python -m integrations.verl.main \
    algorithm.adv_estimator=grpo \
    data.train_files=$DATA/train.parquet \
    data.val_files=$DATA/test.parquet \
    data.train_batch_size=64 \
    data.max_prompt_length=512 \
    data.max_response_length=1024 \
    actor_rollout_ref.model.path=$MODEL \
    actor_rollout_ref.actor.optim.lr=1e-6 \
    actor_rollout_ref.actor.ppo_mini_batch_size=16 \
    actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=8 \
    actor_rollout_ref.rollout.name=vllm \
    actor_rollout_ref.rollout.n=8 \
    actor_rollout_ref.rollout.gpu_memory_utilization=0.6 \
    actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=16 \
    actor_rollout_ref.rollout.nnodes=1 \
    actor_rollout_ref.rollout.n_gpus_per_node=4 \
    actor_rollout_ref.rollout.checkpoint_engine.backend=nccl \
    reward.custom_reward_function.path=recipes/math_reward.py \
    reward.custom_reward_function.name=compute_score \
    trainer.v1.trainer_mode=separate_async \
    trainer.v1.separate_async.parameter_sync_step=4 \
    trainer.v1.separate_async.num_warmup_batches=1 \
    trainer.v1.separate_async.hybrid_rollout.enable_switch=True \
    trainer.v1.sampler.max_off_policy_threshold=2 \
    trainer.v1.sampler.max_off_policy_strategy=drop \
    trainer.n_gpus_per_node=4 \
    trainer.nnodes=1 \
    trainer.total_training_steps=200 \
    trainer.save_freq=50 \
    trainer.test_freq=50 \
    trainer.logger=[console] \
    trainer.default_local_dir=$OUT \
    trainer.project_name=mathenv \
    trainer.experiment_name=verl_v1_separate_async_$CURRICULUM \
    +curriculum.name=$CURRICULUM \
    +curriculum.seed=0 \
    "$@"
