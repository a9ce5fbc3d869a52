"""integrations.verl against the installed verl 0.9.1 and TransferQueue.

v1 (verl's default trainer): verl's own trainer classes (`get_trainer_cls(trainer_mode)`, sync and
colocate_async) built by their own constructor, which builds our `CurriculumReplayBuffer` from
`trainer.v1.sampler.custom_sampler`; verl's data loader over our `CurriculumRLDataset` (`data.custom_cls`);
a real TransferQueue (controller and storage as Ray actors on a local Ray); and verl's real `fit()` loop:
prompt submission, warm-up and `refill_fn`, the buffer's `sample`, batch balancing, old log-probs, GRPO
advantages, the actor update call, checkpoints (data.pt, the TransferQueue checkpoint) and resume.

Legacy (`trainer.use_v1=False`): verl's RayPPOTrainer through our subclass, its config, RLHFDataset,
StatefulDataLoader, `fit()` loop, `_compute_old_log_prob` / `_update_actor`, GRPO advantages and checkpoints.

What cannot run on this CPU machine is stood in for, at the boundary verl itself draws: the rollout (verl's
agent loop drives vLLM/SGLang inference servers, which need CUDA; the stand-ins attempt each prompt with a
simulated learner whose success rate per question is known, score it with our verifier, and write it in
the agent loop's own layout) and the worker groups (the FSDP/Megatron actor engines run in Ray placement
groups that ask for GPUs; the stand-ins return zero log-probs and record each update's batch). The weight
sync between them (checkpoint engine) is a no-op. Nothing else is replaced.
"""

import importlib.util
from types import SimpleNamespace

import numpy as np
import pytest

pytestmark = [
    pytest.mark.skipif(
        importlib.util.find_spec("verl") is None,
        reason="verl not installed: pip install -e '.[verl]' 'torch==2.13.0'",
    ),
    # verl's own import- and construction-time notices on a CPU machine
    pytest.mark.filterwarnings("ignore:.*engine is not available:UserWarning"),
    pytest.mark.filterwarnings("ignore:Ray state API is no longer experimental:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:.*RayPPOTrainer' is deprecated:FutureWarning"),
    pytest.mark.filterwarnings("ignore:Disabled critic:UserWarning"),
    pytest.mark.filterwarnings("ignore:'set_vital' is deprecated:UserWarning"),
    pytest.mark.filterwarnings("ignore:.*load_extern_type' is deprecated:FutureWarning"),
]

P_BY_MOD3 = (0.0, 0.5, 1.0)  # the simulated learner: success probability by question id % 3
BATCH, N = 8, 4  # prompts per step, rollout.n
POOL = 64
LEARNABILITY = [
    "+curriculum.name=learnability",
    "+curriculum.num_candidates=16",
    "+curriculum.buffer_size=8",
    "+curriculum.refresh_every=3",
    "+curriculum.probe_attempts=4",
]


# ---- verl v1 (the default trainer): CurriculumReplayBuffer over a real TransferQueue ----------------------

V1 = [
    "trainer.use_v1=True",
    f"actor_rollout_ref.actor.ppo_mini_batch_size={BATCH}",
    "+curriculum.poll_interval=0.01",
]
V1_LEARNABILITY = [*LEARNABILITY[:-1], "+curriculum.probe_attempts=2"]  # L=2 < rollout.n: probes tell apart


def compose_v1(parquet, ckpt_dir, *overrides):
    """verl's config for the v1 trainer with the curriculum wired in as `python -m integrations.verl.main` does."""
    from integrations.verl.main import configure_v1

    return configure_v1(compose(parquet, ckpt_dir, *V1, *overrides))


@pytest.fixture(scope="module")
def transfer_queue():
    """A real TransferQueue (controller and one SimpleStorage unit as Ray actors on a local Ray)."""
    import ray
    import transfer_queue as tq
    from omegaconf import OmegaConf

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    tq.init(OmegaConf.create({"backend": {"SimpleStorage": {"num_data_storage_units": 1}}}))
    yield tq
    tq.close()
    ray.shutdown()


def _clear(tq):
    for partition, items in (tq.kv_list() or {}).items():
        if items:
            tq.kv_clear(keys=list(items), partition_id=partition)


class SimulatedAgentLoop:
    """verl's AgentLoopManagerTQ without an inference server (vLLM/SGLang need a GPU): a background thread
    attempts each submitted prompt `__rollout_n__` times with the simulated learner (success probability by
    question id % 3), scores each response with our verifier as verl's reward loop would
    (`mathenv.rewards.compute_score`), and writes the trajectories and status tags into TransferQueue in
    AgentLoopWorkerTQ's layout (keys `{uid}_{session}_0`, `AgentLoopOutput.as_dict()` fields, running then
    finished). `delay(q)` holds question q's group until the trainer is that many steps further on, or until
    nothing else is left to attempt for a while (a straggler the trainer ends up waiting for)."""

    def __init__(self, trainer, tq, delay=lambda q: 0):
        import threading

        self.trainer, self.tq, self.delay = trainer, tq, delay
        self.pending, self.submitted, self.done, self.lock = [], [], [], threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def generate_sequences(self, batch):
        """Take the prompts and return at once (verl's agent loop runs them as background tasks)."""
        import torch
        from tensordict import NonTensorData, NonTensorStack

        rows = []
        for i in range(len(batch)):  # as AgentLoopWorkerTQ.generate_sequences splits a batch into prompts
            row = {}
            for k, v in batch.items():
                if isinstance(v, torch.Tensor):
                    row[k] = v[i]
                elif isinstance(v, NonTensorStack):
                    row[k] = v[i].data
                elif isinstance(v, NonTensorData):
                    row[k] = v.data
            rows.append(row)
        with self.lock:
            self.pending += rows
            self.submitted += [
                (int(r["global_steps"]), r["extra_info"]["curriculum_index"], int(r["__rollout_n__"]))
                for r in rows
                if not r.get("validate")
            ]

    def _run(self):
        import time

        idle = 0
        while not self.stop.is_set():
            with self.lock:
                step = self.trainer.global_steps
                ready = [
                    r
                    for r in self.pending
                    if r.get("validate")
                    or step - int(r["global_steps"]) >= self.delay(r["extra_info"]["curriculum_index"])
                ]
                if not ready and self.pending and idle > 25:
                    ready = self.pending[:1]
                self.pending = [r for r in self.pending if all(r is not x for x in ready)]
            idle = 0 if ready else idle + 1
            for r in ready:
                self._attempt(r)
            time.sleep(0.002)

    def _attempt(self, prompt):
        import torch
        from verl.experimental.agent_loop.agent_loop import AgentLoopMetrics, AgentLoopOutput
        from verl.utils.tensordict_utils import list_of_dict_to_tensordict

        from mathenv.rewards import compute_score

        tq, uid, info = self.tq, prompt["uid"], prompt["extra_info"]
        partition = "val" if prompt.get("validate") else "train"  # validation rows are plain RLHFDataset rows
        q = info.get("curriculum_index", info["index"])
        n = int(prompt.get("__rollout_n__", 1))  # verl's val_kwargs.n defaults to 1
        tq.kv_put(key=uid, partition_id=partition, tag={"status": "running"})
        rng = np.random.default_rng([q, info.get("curriculum_request", 0), info.get("curriculum_slot", 0)])
        gold = prompt["reward_model"]["ground_truth"]
        keys, fields, tags = [], [], []
        for session in range(n):
            solved = rng.random() < P_BY_MOD3[q % 3]
            text = f"so \\boxed{{{gold if solved else str(gold) + '1'}}}"
            score = compute_score(prompt["data_source"], text, gold)["score"]
            out = AgentLoopOutput(
                prompt_ids=[1, 2, 3],
                response_ids=[4, 5, 6, 7],
                response_mask=[1, 1, 1, 1],
                response_logprobs=[-0.5] * 4,
                reward_score=score,
                num_turns=2,
                metrics=AgentLoopMetrics(),
                extra_fields={
                    "min_global_steps": self.trainer.global_steps,
                    "max_global_steps": self.trainer.global_steps,
                    "reward_extra_info": {},
                },
            )
            field = out.as_dict()
            field.update({k: v for k, v in prompt.items() if k not in ("__rollout_n__", "validate")})
            field["session_id"] = session
            ids = torch.tensor([1, 2, 3, 4, 5, 6, 7])
            field.update(loss_mask=field["response_mask"], input_ids=ids, position_ids=torch.arange(7))
            keys.append(f"{uid}_{session}_0")
            fields.append(field)
            tags.append(
                {
                    "status": "success",
                    "prompt_len": 3,
                    "response_len": 4,
                    "seq_len": 7,
                    "global_steps": int(prompt["global_steps"]),
                    "min_global_steps": self.trainer.global_steps,
                    "max_global_steps": self.trainer.global_steps,
                }
            )
        tq.kv_batch_put(
            keys=keys, fields=list_of_dict_to_tensordict(fields), tags=tags, partition_id=partition
        )
        tq.kv_put(key=uid, partition_id=partition, tag={"status": "finished"})
        self.done.append((uid, q, n, partition))

    def close(self):
        self.stop.set()
        self.thread.join()


class ActorStandIn:
    """The actor worker group (FSDP/Megatron engines need GPUs): the log-probs it would write, and a record
    of each update's batch (the groups' question ids and advantages read back from TransferQueue)."""

    _dispatch_info = {"actor": [0]}

    def __init__(self, tq, step):
        self.tq, self.step, self.updates = tq, step, []

    def compute_log_prob(self, batch):
        import torch

        data = self.tq.kv_batch_get(
            keys=batch.keys, partition_id=batch.partition_id, select_fields=["response_mask"]
        )
        zeros = torch.nested.as_nested_tensor(
            [torch.zeros(len(m)) for m in data["response_mask"].unbind()], layout=torch.jagged
        )
        from tensordict import TensorDict

        self.tq.kv_batch_put(
            keys=batch.keys,
            partition_id=batch.partition_id,
            fields=TensorDict({"log_probs": zeros, "entropy": zeros.clone()}, batch_size=len(batch)),
        )
        return batch

    def update_actor(self, batch):
        data = self.tq.kv_batch_get(
            keys=batch.keys,
            partition_id=batch.partition_id,
            select_fields=["extra_info", "rm_scores", "advantages", "global_steps", "uid"],
        )
        qids = [x["curriculum_index"] for x in list(data["extra_info"])]
        rewards = [float(x.sum()) for x in data["rm_scores"].unbind()]
        adv = [float(x.abs().sum()) for x in data["advantages"].unbind()]
        self.updates.append(
            {
                "step": self.step(),
                "keys": list(batch.keys),
                "qids": qids,
                "rewards": rewards,
                "adv": adv,
                "submitted": [int(x) for x in data["global_steps"]],
                "requests": [x["curriculum_request"] for x in list(data["extra_info"])],
                "uids": list(data["uid"]),  # the field GRPO groups by (a held group takes its continuation's)
            }
        )
        return {"metrics": {"mfu": 0.0, "pg_loss": 0.0}}

    def save_checkpoint(self, *a, **k):
        pass

    def load_checkpoint(self, *a, **k):
        pass

    def save_model_to_cpu(
        self, *a
    ):  # separate_async keeps the old policy's weights on the host (Decoupled PPO)
        pass

    restore_model_from_cpu = clear_cpu_model = save_model_to_cpu


def make_v1_trainer(cfg, tq, delay=lambda q: 0):
    """verl's v1 trainer class for `trainer.v1.trainer_mode`, built by its own constructor (which builds our
    replay buffer from `custom_sampler`) and its own data loader (our dataset from `data.custom_cls`);
    the worker groups, inference servers and weight sync that need GPUs are the stand-ins above."""
    from verl.trainer.ppo.v1 import get_trainer_cls

    _clear(tq)
    trainer = get_trainer_cls(cfg.trainer.v1.trainer_mode)(config=cfg)
    trainer.tokenizer = SimpleNamespace(
        eos_token_id=2,
        pad_token_id=0,  # no text here: ids for padding only
        decode=lambda ids, skip_special_tokens=True: "",
    )
    trainer.processor = None
    trainer._init_dataloader()
    trainer._init_dump_executor()
    trainer._init_resource_pool_mgr()  # the spec only: creating the pools asks Ray for GPUs
    trainer.actor_rollout_wg = ActorStandIn(tq, lambda: trainer.global_steps)
    trainer.reward_loop_manager = SimpleNamespace(
        reward_loop_worker_handles=[]
    )  # rewards come with each group
    trainer.checkpoint_manager = SimpleNamespace(
        update_weights=lambda *a: None,
        sleep_replicas=lambda: None,
        abort_replicas=lambda **k: None,
        resume_generation_replicas=lambda: None,
    )
    trainer._load_checkpoint()
    trainer.rollout = SimulatedAgentLoop(trainer, tq, delay)
    return trainer


def fit_v1(trainer):
    try:
        trainer.fit(trainer.rollout)
    finally:
        trainer.rollout.close()


@pytest.fixture(autouse=True)
def verl_lock_files_in_tmp(monkeypatch, tmp_path):
    """verl's checkpoint code leaves one lock file per folder in the temp dir: keep them in tmp_path."""
    import tempfile

    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))


@pytest.fixture(scope="module")
def parquet(tmp_path_factory, data_dir):
    from mathenv import load_questions
    from mathenv.export import write_verl_parquet

    src = data_dir / "gsm8k" / "train.jsonl"
    if not src.exists():
        pytest.skip(f"{src} not found")
    questions = load_questions("gsm8k", "train", data_path=src, num_questions=POOL)
    return write_verl_parquet(questions, tmp_path_factory.mktemp("verl") / "train.parquet")


def compose(parquet, ckpt_dir, *overrides):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from integrations.verl.main import verl_config_dir

    base = [
        "trainer.use_v1=False" if not any(o.startswith("trainer.use_v1=") for o in overrides) else "",
        f"data.train_files={parquet}",
        f"data.val_files={parquet}",
        f"data.train_batch_size={BATCH}",
        "data.dataloader_num_workers=0",
        "data.filter_overlong_prompts=False",
        f"actor_rollout_ref.rollout.n={N}",
        "algorithm.adv_estimator=grpo",
        "trainer.logger=[]",
        "trainer.val_before_train=False",
        "trainer.test_freq=-1",
        "trainer.balance_batch=False",
        f"trainer.default_local_dir={ckpt_dir}",
        "trainer.save_freq=4",
        "trainer.total_training_steps=10",
    ]
    with initialize_config_dir(config_dir=verl_config_dir(), version_base=None):
        return hydra_compose("ppo_trainer", overrides=[o for o in base if o] + list(overrides))


class RolloutStandIn:
    """verl's agent loop manager (its vLLM/SGLang inference servers need a GPU): responses, rewards at the
    last response token (`rm_scores`), and the non-tensor fields the streaming reward path returns (the
    dataset's own columns are not among them), for the legacy trainer."""

    def __init__(self):
        self.calls = []  # (global step, question id of each prompt)

    def generate_sequences(self, gen: "DataProto"):  # noqa: F821
        import torch
        from tensordict import TensorDict
        from verl import DataProto

        qids = np.array([x["curriculum_index"] for x in gen.non_tensor_batch["extra_info"]])
        step = gen.meta_info["global_steps"]
        self.calls.append((step, qids[::N].tolist()))
        rng = np.random.default_rng([step, 11])  # same rewards for the same step in a resumed run
        n, lp, lr = len(gen), 3, 5
        solved = rng.random(n) < np.array([P_BY_MOD3[q % 3] for q in qids])
        length = torch.from_numpy(rng.integers(1, lr + 1, n))
        response_mask = (torch.arange(lr)[None, :] < length[:, None]).long()
        rm_scores = torch.zeros(n, lr)
        rm_scores[torch.arange(n), length - 1] = torch.from_numpy(solved.astype(np.float32))
        batch = TensorDict(
            {
                "prompts": torch.zeros(n, lp, dtype=torch.long),
                "responses": torch.zeros(n, lr, dtype=torch.long),
                "response_mask": response_mask,
                "input_ids": torch.zeros(n, lp + lr, dtype=torch.long),
                "attention_mask": torch.cat([torch.ones(n, lp, dtype=torch.long), response_mask], 1),
                "position_ids": torch.arange(lp + lr).repeat(n, 1),
                "rm_scores": rm_scores,
            },
            batch_size=n,
        )
        empty = np.empty(n, dtype=object)
        empty[:] = [{} for _ in range(n)]
        non_tensor = {
            "__num_turns__": np.full(n, 2, dtype=np.int32),
            "acc": solved.astype(np.float64),
            "multi_modal_inputs": empty,
        }
        return DataProto(
            batch=batch, non_tensor_batch=non_tensor, meta_info={"timing": {}, "reward_extra_keys": ["acc"]}
        )


def make_trainer(cfg, updates=None):
    """verl's legacy RayPPOTrainer through our subclass; the GPU-bound parts are the stand-ins above."""
    from verl.trainer.ppo.ray_trainer import Role
    from verl.trainer.ppo.utils import create_rl_dataset

    from integrations.verl import trainer as verl_trainer
    from integrations.verl.sampler import build

    dataset = create_rl_dataset(cfg.data.train_files, cfg.data, None, None, is_train=True)
    train, sampler = build(cfg, dataset)
    trainer = verl_trainer.CurriculumRayPPOTrainer(
        cfg,
        tokenizer=None,
        role_worker_mapping={Role.ActorRollout: object},
        resource_pool_manager=SimpleNamespace(get_n_gpus=lambda: 1),
        train_dataset=train,
        val_dataset=dataset,
        train_sampler=sampler,
    )
    trainer.async_rollout_manager = RolloutStandIn()
    trainer.checkpoint_manager = SimpleNamespace(
        update_weights=lambda step: None, sleep_replicas=lambda: None
    )
    trainer.actor_rollout_wg = LegacyActorStandIn(trainer, [] if updates is None else updates)
    return trainer


class LegacyActorStandIn:
    """verl's actor worker group (FSDP/Megatron engines in Ray placement groups that ask for GPUs): verl's own
    `RayPPOTrainer._update_actor` runs and hands the worker its batch (a no-padding TensorDict); this records
    it, rebuilt as the DataProto of the rows trained on, with the trainer's step, and returns the metrics a
    worker returns."""

    def __init__(self, trainer, seen):
        self.trainer, self.seen = trainer, seen

    def compute_log_prob(self, td):
        """The old log-probs and entropies (zeros), in the no-padding layout a worker returns."""
        import torch
        from tensordict import TensorDict
        from verl.utils import tensordict_utils as tu

        zeros = torch.zeros_like(td["input_ids"], dtype=torch.float32)
        out = TensorDict({"log_probs": zeros, "entropy": zeros.clone()}, batch_size=td.batch_size)
        tu.assign_non_tensor_data(out, "metrics", {"mfu": 0.0})
        return out

    def update_actor(self, td):
        from verl import DataProto
        from verl.utils import tensordict_utils as tu

        batch = DataProto.from_dict(
            {k: td[k] for k in ("token_level_scores", "advantages")},
            non_tensors={k: np.array(tu.get(td, k), dtype=object) for k in ("uid", "extra_info")},
            meta_info={"global_token_num": tu.get(td, "global_token_num")},
        )
        self.seen.append((self.trainer.global_steps, batch))
        from tensordict import TensorDict

        out = TensorDict({}, batch_size=[])
        tu.assign_non_tensor_data(out, "metrics", {"mfu": 0.0, "pg_loss": 0.0})
        return out

    def save_checkpoint(self, *a, **k):
        pass

    def load_checkpoint(self, *a, **k):
        pass

    def save_model_to_cpu(
        self, *a
    ):  # separate_async keeps the old policy's weights on the host (Decoupled PPO)
        pass

    restore_model_from_cpu = clear_cpu_model = save_model_to_cpu


@pytest.fixture
def actor_updates():
    """(step, batch) of every update verl's `_update_actor` sent to the actor worker group."""
    return []


def test_fit_feeds_every_reward_back_and_resumes_exactly(parquet, tmp_path, actor_updates):
    import torch

    cfg = compose(parquet, tmp_path, *LEARNABILITY)
    trainer = make_trainer(cfg, actor_updates)
    trainer.fit()
    cur = trainer.curriculum_sampler.curriculum
    calls = trainer.async_rollout_manager.calls
    phases = ["probe", "probe", "train", "train", "train", "probe", "probe", "train", "train", "train"]

    # every response's reward reached the curriculum, probes as probes
    assert [step for step, _ in calls] == list(range(1, 11))
    diag = cur.diagnostics()
    assert (
        diag["curriculum/probe_attempts"] == 4 * BATCH * N
        and diag["curriculum/train_attempts"] == 6 * BATCH * N
    )
    assert cur.attempts.sum() == 10 * BATCH * N
    # probe steps are not trained on; training steps train on all 32 rows
    assert [step for step, _ in actor_updates] == [s + 1 for s, p in enumerate(phases) if p == "train"]
    assert all(len(batch) == BATCH * N for _, batch in actor_updates)
    # the buffer holds the questions the learner solves half the time, and training batches favour them
    positive = cur.buffer[cur.buffer_learnability > 0]
    assert positive.size and all(q % 3 == 1 for q in positive)
    train_ids = np.concatenate([ids for (step, ids), p in zip(calls, phases, strict=True) if p == "train"])
    assert np.mean(train_ids % 3 == 1) > 0.5  # uniform would give 1/3

    # checkpoints: verl's files plus curriculum.pt; data.pt carries the sampler state too
    for step in (4, 8, 10):
        assert (tmp_path / f"global_step_{step}" / "curriculum.pt").exists()
    data_pt = torch.load(tmp_path / "global_step_4" / "data.pt", weights_only=False)
    assert "curriculum" in repr(data_pt)[:100000]

    # resume from step 4 (mid-epoch: data.pt is restored) and from step 8 (an epoch boundary of 8 batches:
    # verl skips data.pt, curriculum.pt still restores the curriculum): the same choices as straight through
    for step in (4, 8):
        resumed = make_trainer(
            compose(
                parquet,
                tmp_path,
                *LEARNABILITY,
                "trainer.resume_mode=resume_path",
                f"trainer.resume_from_path={tmp_path}/global_step_{step}",
                f"trainer.default_local_dir={tmp_path}/resumed_{step}",
            ),
            actor_updates,
        )
        resumed.fit()
        assert resumed.async_rollout_manager.calls == calls[step:]
        state, straight = resumed.curriculum_sampler.curriculum.state_dict(), cur.state_dict()
        for key in ("attempts", "successes", "buffer", "iteration"):
            assert np.array_equal(state[key], straight[key]), key


def test_filter_curriculum_trains_on_the_groups_it_keeps(parquet, tmp_path, actor_updates):
    # learnability_filter: draw 16 candidates (data.gen_batch_size), train on the 4 with the highest p(1-p)
    cfg = compose(
        parquet,
        tmp_path,
        "data.gen_batch_size=16",
        "data.train_batch_size=4",
        "trainer.save_freq=-1",
        "trainer.total_training_steps=3",
        "+curriculum.name=learnability_filter",
        "+curriculum.ratio=4",
    )
    trainer = make_trainer(cfg, actor_updates)
    trainer.fit()
    assert len(actor_updates) == 3
    for _, batch in actor_updates:
        assert len(batch) == 4 * N and len(set(batch.non_tensor_batch["uid"])) == 4
        assert len(batch.meta_info["global_token_num"]) == 4 * N
        scores = batch.batch["token_level_scores"].sum(-1).view(4, N)
        mixed = (scores.min(1).values < 1) & (scores.max(1).values > 0)
        assert mixed.all()  # 16 candidates, a third at p=0.5: at least 4 mixed groups (checked by seed)
    assert trainer.curriculum_sampler.curriculum.diagnostics()["curriculum/train_attempts"] == 3 * 16 * N


def _question_ids(batch):
    return sorted(x["curriculum_index"] for x in batch.non_tensor_batch["extra_info"])


def test_dynamic_sampling_updates_once_per_full_batch_and_resumes_waiting_rows(
    parquet, tmp_path, actor_updates
):
    # zero_variance_filter (DAPO): generation batches of 16 prompts (data.gen_batch_size) until 8 informative
    # groups (data.train_batch_size) are kept; steps that leave the batch short do not update
    opts = (
        "data.gen_batch_size=16",
        "trainer.save_freq=1",
        "trainer.total_training_steps=8",
        "+curriculum.name=zero_variance_filter",
    )
    trainer = make_trainer(compose(parquet, tmp_path, *opts), actor_updates)
    trainer.fit()
    cur = trainer.curriculum_sampler.curriculum
    assert cur.gen_batch_size == 16 and cur.batch_size == BATCH
    assert 1 <= len(actor_updates) == cur.iteration < 8  # some steps only generated
    for _, batch in actor_updates:
        assert len(batch) == BATCH * N and len(set(batch.non_tensor_batch["uid"])) == BATCH
        assert len(batch.meta_info["global_token_num"]) == BATCH * N
        scores = batch.batch["token_level_scores"].sum(-1).view(BATCH, N)
        assert ((scores.min(1).values < 1) & (scores.max(1).values > 0)).all()  # only informative groups
    diag = cur.diagnostics()
    assert diag["curriculum/train_attempts"] == 8 * 16 * N  # every generated attempt counts
    assert diag["curriculum/discarded_attempts"] == 8 * 16 * N - len(actor_updates) * BATCH * N - sum(
        len(r) for r in trainer._curriculum_waiting
    )

    # resume from a step that ended with rows waiting: they come back from curriculum_rows.pt
    straight = [(step, _question_ids(batch)) for step, batch in actor_updates]
    waiting = [
        s for s in range(1, 8) if len(torch_load(tmp_path / f"global_step_{s}" / "curriculum_rows.pt"))
    ]
    assert waiting
    step = waiting[0]
    actor_updates.clear()
    resumed = make_trainer(
        compose(
            parquet,
            tmp_path,
            *opts,
            "trainer.resume_mode=resume_path",
            f"trainer.resume_from_path={tmp_path}/global_step_{step}",
            f"trainer.default_local_dir={tmp_path}/resumed",
        ),
        actor_updates,
    )
    resumed.fit()
    assert [(s, _question_ids(b)) for s, b in actor_updates] == [u for u in straight if u[0] > step]


def test_dynamic_sampling_cap_pads_a_short_batch_with_zero_advantage_rows(parquet, tmp_path, actor_updates):
    cfg = compose(
        parquet,
        tmp_path,
        "data.gen_batch_size=16",
        "trainer.save_freq=-1",
        "trainer.total_training_steps=2",
        "+curriculum.name=zero_variance_filter",
        "+curriculum.max_num_gen_batches=1",
    )
    trainer = make_trainer(cfg, actor_updates)
    with pytest.warns(UserWarning, match="kept only"):
        trainer.fit()
    assert len(actor_updates) == 2
    for _, batch in actor_updates:
        assert len(batch) == BATCH * N  # filled up to train_batch_size with dropped groups
        scores = batch.batch["token_level_scores"].sum(-1).view(BATCH, N)
        informative = (scores.min(1).values < 1) & (scores.max(1).values > 0)
        moved = batch.batch["advantages"].abs().sum(-1).view(BATCH, N).sum(1) > 0
        assert informative.any() and not informative.all() and not moved[~informative].any()


def test_posterior_runs_through_verl_without_probes(parquet, tmp_path, actor_updates):
    cfg = compose(
        parquet,
        tmp_path,
        "trainer.save_freq=-1",
        "trainer.total_training_steps=4",
        "+curriculum.name=posterior",
        "+curriculum.forgetting=0.9",
    )
    trainer = make_trainer(cfg, actor_updates)
    trainer.fit()
    cur = trainer.curriculum_sampler.curriculum
    assert [step for step, _ in actor_updates] == [1, 2, 3, 4]  # every step trains: no probe steps
    assert all(len(batch) == BATCH * N for _, batch in actor_updates)
    diag = cur.diagnostics()
    assert diag["curriculum/probe_attempts"] == 0 and diag["curriculum/train_attempts"] == 4 * BATCH * N
    alpha, beta = cur.posterior(np.arange(POOL))
    assert (alpha + beta - 2).sum() > 0 and cur.iteration == 4  # the rewards reached the posteriors


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("greso", []),
        ("adarft", ["+curriculum.difficulty=[" + ",".join(str(q % 5) for q in range(POOL)) + "]"]),
    ],
)
def test_selectors_run_through_the_legacy_trainer(parquet, tmp_path, actor_updates, name, options):
    cfg = compose(
        parquet,
        tmp_path,
        "trainer.save_freq=-1",
        "trainer.total_training_steps=3",
        f"+curriculum.name={name}",
        *options,
    )
    trainer = make_trainer(cfg, actor_updates)
    trainer.fit()
    cur = trainer.curriculum_sampler.curriculum
    if name == "greso":  # DAPO's loop after the skip: a step that leaves the batch short does not update
        assert 1 <= len(actor_updates) == cur.iteration <= 3
    else:
        assert [step for step, _ in actor_updates] == [1, 2, 3] and cur.iteration == 3
    assert all(len(batch) == BATCH * N for _, batch in actor_updates)
    assert cur.attempts.sum() == cur.diagnostics()["curriculum/train_attempts"] == 3 * BATCH * N


def torch_load(path):
    import torch

    return torch.load(path, weights_only=False)


def test_batch_layout_rows_in_any_order_and_ids_from_extra_info(parquet, tmp_path):
    import torch
    from verl import DataProto

    from integrations.verl.sampler import groups_from_batch

    ids = np.repeat([5, 9, 5], N)  # the same question twice in one batch: two groups
    uid = np.repeat(["a", "b", "c"], N).astype(object)
    scores = torch.zeros(len(ids), 6)
    scores[:, -1] = torch.arange(len(ids)) % 2
    info = np.empty(len(ids), dtype=object)
    info[:] = [{"curriculum_index": int(q), "index": 0} for q in ids]
    batch = DataProto.from_dict({"token_level_scores": scores}, non_tensors={"uid": uid, "extra_info": info})
    perm = np.random.default_rng(0).permutation(len(ids))
    shuffled = batch.select_idxs(perm)
    qids, rewards, group_of_row = groups_from_batch(shuffled)
    assert sorted(qids.tolist()) == [5, 5, 9] and rewards.shape == (3, N)
    assert np.array_equal(qids[group_of_row], ids[perm])
    assert np.nansum(rewards) == float(scores.sum())


def test_dataloader_workers_are_turned_off_and_sizes_checked(parquet, tmp_path):
    cfg = compose(parquet, tmp_path, "data.dataloader_num_workers=2", "+curriculum.name=uniform")
    with pytest.warns(UserWarning, match="dataloader_num_workers"):
        trainer = make_trainer(cfg)
    assert trainer.train_dataloader.num_workers == 0 and len(trainer.train_dataloader) == POOL // BATCH
    with pytest.raises(ValueError, match="batch_size = B"):
        make_trainer(compose(parquet, tmp_path, "+curriculum.name=uniform", "+curriculum.batch_size=4"))


def test_verifier_as_custom_reward_function_loaded_by_verl(parquet, tmp_path):
    from verl.trainer.ppo.reward import get_custom_reward_fn

    cfg = compose(
        parquet,
        tmp_path,
        "reward.custom_reward_function.path=pkg://mathenv.rewards",
        "reward.custom_reward_function.name=compute_score",
        "+reward.custom_reward_function.reward_kwargs.format_penalty=0.5",
    )
    fn = get_custom_reward_fn(cfg)
    right = fn(
        data_source="mathenv/gsm8k", solution_str="48 + 24 = 72. #### 72", ground_truth="72", extra_info={}
    )
    assert right == {"score": 1.0, "acc": 1.0, "pred": "72"}
    assert fn(data_source="x", solution_str="so \\boxed{71}", ground_truth="72")["score"] == 0.0
    assert (
        fn(data_source="x", solution_str="I do not know", ground_truth="72", extra_info=None)["score"] == -0.5
    )
    # a number in final form where the gold is one, on every data source, as the env scores it; reward_kwargs
    # numbers_only=False gives math-verify's equality
    for source in ("mathenv/gsm8k", "mathenv/math500"):
        assert fn(data_source=source, solution_str="\\boxed{48 + 24}", ground_truth="72")["score"] == 0.0
    lenient = get_custom_reward_fn(
        compose(
            parquet,
            tmp_path,
            "reward.custom_reward_function.path=pkg://mathenv.rewards",
            "reward.custom_reward_function.name=compute_score",
            "+reward.custom_reward_function.reward_kwargs.numbers_only=False",
        )
    )
    assert lenient(data_source="x", solution_str="\\boxed{48 + 24}", ground_truth="72")["score"] == 1.0


def test_prepare_cli_and_entry_point_guards(tmp_path, data_dir, parquet):
    import datasets

    from integrations.verl import main as cv

    src = data_dir / "gsm8k"
    assert (
        cv.main(
            [
                "prepare",
                "gsm8k",
                "--out",
                str(tmp_path),
                "--train-path",
                str(src / "train.jsonl"),
                "--test-path",
                str(src / "test.jsonl"),
                "--num-questions",
                "12",
            ]
        )
        == 0
    )
    rows = datasets.load_dataset("parquet", data_files=str(tmp_path / "train.parquet"))["train"]
    assert (
        len(rows) == 12
        and rows[3]["extra_info"]["index"] == 3
        and rows[0]["reward_model"]["ground_truth"] == "72"
    )
    for use_v1 in ("False", "True"):  # either trainer: the guard runs before Ray starts
        with pytest.raises(SystemExit, match="curriculum"):
            cv._hydra_main(compose(parquet, tmp_path, f"trainer.use_v1={use_v1}"))


def test_docs_command_composes_and_validates(tmp_path):
    """docs/verl.md's multi-GPU command: every override exists in verl's config and passes its checks."""
    import re
    from pathlib import Path

    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    from curricula.schedule import BatchSchedule
    from integrations.verl import main as verl_main
    from integrations.verl.sampler import make_curriculum

    doc = (Path(__file__).resolve().parent.parent / "docs" / "verl.md").read_text()
    block = re.search(r"<!--[^>]*verl-command[^>]*-->\n```bash\n(.*?)```", doc, re.S).group(1)
    words = block.replace("\\\n", " ").replace("$HOME", str(tmp_path)).split()
    assert words[:3] == ["python", "-m", "integrations.verl.main"]
    with initialize_config_dir(config_dir=verl_main.verl_config_dir(), version_base=None):
        cfg = hydra_compose("ppo_trainer", overrides=words[3:])
    validate_config(cfg, use_reference_policy=need_reference_policy(cfg), use_critic=need_critic(cfg))
    from omegaconf import OmegaConf

    cur = make_curriculum(OmegaConf.to_container(cfg.curriculum), 7473, cfg.data.train_batch_size)
    assert (cur.name, cur.num_candidates, cur.buffer_size, cur.refresh_every) == (
        "learnability",
        1280,
        256,
        50,
    )
    BatchSchedule(cur, cfg.data.train_batch_size, cfg.actor_rollout_ref.rollout.n)


def test_docs_v1_command_builds_the_curriculum_buffer_in_verls_trainer(tmp_path, transfer_queue, parquet):
    """docs/verl.md's v1 GPU command, per arm: every override exists in verl's config and passes its checks,
    and with `configure_v1` verl's own v1 trainer constructor and data loader build our buffer and dataset with
    the curriculum the command names (the data files swapped for the test's parquet)."""
    import re
    from pathlib import Path

    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    from integrations.verl import main as verl_main

    doc = (Path(__file__).resolve().parent.parent / "docs" / "verl.md").read_text()
    block = re.search(r"<!--[^>]*verl-v1-command[^>]*-->\n```bash\n(.*?)```", doc, re.S).group(1)
    command = block[block.index("python -m") : block.index("\ndone")]
    for arm, extra in (("learnability", "+curriculum.preset=fast"), ("uniform", "")):
        words = command.replace("\\\n", " ").replace("$cur", arm).replace("$extra", extra).split()
        assert words[:3] == ["python", "-m", "integrations.verl.main"]
        words = [
            f"data.train_files={parquet}"
            if w.startswith("data.train_files=")
            else f"data.val_files={parquet}"
            if w.startswith("data.val_files=")
            else w
            for w in words[3:]
        ]
        with initialize_config_dir(config_dir=verl_main.verl_config_dir(), version_base=None):
            cfg = hydra_compose("ppo_trainer", overrides=[*words, f"trainer.default_local_dir={tmp_path}"])
        assert cfg.trainer.use_v1
        verl_main.configure_v1(cfg)
        validate_config(cfg, use_reference_policy=need_reference_policy(cfg), use_critic=need_critic(cfg))
        if arm == "learnability":  # the test's pool of 64 is smaller than the N=128 candidates: verl says so
            with pytest.raises(ValueError, match="exceeds the pool of 64"):
                make_v1_trainer(cfg, transfer_queue)
            continue
        trainer = make_v1_trainer(cfg, transfer_queue)
        trainer.rollout.close()
        feed = trainer.replay_buffer.feed
        assert (feed.curriculum.name, feed.curriculum.batch_size, feed.rollout_n) == ("uniform", 32, 8)


def _groups(update):
    """(question id, rewards, |advantages|) per group (uid) of an update."""
    by_uid = {}
    for key, q, r, a in zip(update["keys"], update["qids"], update["rewards"], update["adv"], strict=True):
        group = by_uid.setdefault(key.split("_")[0], (q, [], []))
        group[1].append(r)
        group[2].append(a)
    return list(by_uid.values())


def _accounting(trainer):
    """Every submitted group read or dropped at most once, and the curriculum counted exactly the attempts read
    (those of requests not yet reported excepted)."""
    feed, rollout = trainer.replay_buffer.feed, trainer.rollout
    open_slots = sum(int((r["state"] <= 1).sum()) for r in feed.requests.values())
    assert feed.counts["read"] + feed.counts["dropped"] + open_slots == len(rollout.submitted)
    unreported = sum(int(np.isfinite(r["rows"]).sum()) for r in feed.requests.values() if r["keep"] is None)
    assert feed.curriculum.attempts.sum() == feed.counts["attempts"] - unreported
    return feed


def test_v1_sync_learnability_trains_only_kept_groups(parquet, tmp_path, transfer_queue):
    """verl's v1 `fit()` in sync mode with learnability: probes (L=2 attempts) are attempted, fed back and never
    trained on; every update holds B groups of rollout.n, drawn half from the buffer of p(1-p) > 0 questions."""
    cfg = compose_v1(
        parquet,
        tmp_path,
        "trainer.v1.trainer_mode=sync",
        "trainer.save_freq=-1",
        "trainer.total_training_steps=6",
        *V1_LEARNABILITY,
    )
    trainer = make_v1_trainer(cfg, transfer_queue)
    fit_v1(trainer)
    feed = _accounting(trainer)
    cur, updates = feed.curriculum, trainer.actor_rollout_wg.updates
    probes = [s for s in trainer.rollout.submitted if s[2] == 2]
    assert len(probes) == 2 * 16  # refreshes before iteration 0 and 3 (T=3), N=16 candidates each
    diag = cur.diagnostics()
    assert (
        diag["curriculum/probe_attempts"] == 2 * 16 * 2 and diag["curriculum/train_attempts"] == 6 * BATCH * N
    )
    assert [u["step"] for u in updates] == [1, 2, 3, 4, 5, 6] and cur.iteration == 6
    for u in updates:
        groups = _groups(u)
        assert len(groups) == BATCH and all(len(r) == N for _, r, _ in groups)  # no probe group (2 attempts)
        assert set(u["submitted"]) == {u["step"]}  # sync: on-policy, submitted in the step that trains on it
        for _, r, adv in groups:
            assert (sum(adv) > 0) == (0 < sum(r) < N)  # GRPO's advantage moves only mixed groups
    assert feed.counts == {
        **feed.counts,
        "read": 32 + 6 * BATCH,
        "evicted": 32,
        "trained": 6 * BATCH,
        "dropped": 0,
    }
    assert not feed.requests  # sync drains: nothing in flight between steps
    positive = cur.buffer[cur.buffer_learnability > 0]
    assert positive.size and all(q % 3 == 1 for q in positive)
    trained = np.array([q for u in updates for q, _, _ in _groups(u)])
    assert np.mean(trained % 3 == 1) > 0.5  # uniform would give 1/3


@pytest.mark.filterwarnings(
    "ignore:learnability. a training batch before the first buffer:UserWarning"
)  # drawn while the probe is out
def test_v1_async_keeps_the_off_policy_threshold(parquet, tmp_path, transfer_queue):
    """colocate_async with max_off_policy_threshold=2 (drop): requests are drawn while earlier ones are still
    attempted; stragglers (questions % 4 == 0 held 2 steps) finish too stale and are dropped unread (NaN for
    the curriculum), and no update trains on a group more than 2 policy versions old."""
    cfg = compose_v1(
        parquet,
        tmp_path,
        "trainer.v1.trainer_mode=colocate_async",
        "trainer.save_freq=-1",
        "trainer.total_training_steps=8",
        "trainer.v1.sampler.max_off_policy_threshold=2",
        "trainer.v1.sampler.max_off_policy_strategy=drop",
        "trainer.v1.colocate_async.num_warmup_batches=3",
        *V1_LEARNABILITY,
    )
    trainer = make_v1_trainer(cfg, transfer_queue, delay=lambda q: 2 if q % 4 == 0 else 0)
    fit_v1(trainer)
    feed = _accounting(trainer)
    updates = trainer.actor_rollout_wg.updates
    print(feed.counts, [(u["step"], sorted(set(u["submitted"]))) for u in updates])
    assert [u["step"] for u in updates] == list(range(1, 9))
    for u in updates:
        assert len(_groups(u)) == BATCH and all(len(r) == N for _, r, _ in _groups(u))
        assert all(u["step"] - s + 1 <= 2 for s in u["submitted"])
    assert feed.counts["dropped"] > 0
    assert any(u["step"] - s == 1 for u in updates for s in u["submitted"])  # trained one version late


def test_v1_dynamic_sampling_as_a_curriculum_trains_only_informative_groups(
    parquet, tmp_path, transfer_queue
):
    """zero_variance_filter (DAPO's dynamic sampling) as the buffer's curriculum in sync mode: groups whose
    rewards all agree are evicted and replaced (refill_fn) until B informative groups are kept; the update
    holds exactly those, each with a non-zero GRPO advantage. Validation (test_freq=2) goes through verl's
    own sampling of the val partition, over the validation dataset, which stays a plain RLHFDataset."""
    cfg = compose_v1(
        parquet,
        tmp_path,
        "trainer.v1.trainer_mode=sync",
        "trainer.save_freq=-1",
        "trainer.total_training_steps=4",
        "+curriculum.name=zero_variance_filter",
        "trainer.test_freq=2",
    )
    trainer = make_v1_trainer(cfg, transfer_queue)
    fit_v1(trainer)
    val = [d for d in trainer.rollout.done if d[3] == "val"]
    assert len(val) == 2 * POOL  # validation at steps 2 and 4 ran verl's own sampling over the plain dataset
    assert sorted(q for _, q, _, _ in val[:POOL]) == list(range(POOL))
    feed = _accounting(trainer)
    updates = trainer.actor_rollout_wg.updates
    assert [u["step"] for u in updates] == [1, 2, 3, 4] and feed.curriculum.iteration == 4
    for u in updates:
        groups = _groups(u)
        assert len(groups) == BATCH and all(0 < sum(r) < N for _, r, _ in groups)
        assert all(a > 0 for a in u["adv"])  # every row of an informative group moves
    assert feed.counts["evicted"] > 0 and feed.counts["trained"] == 4 * BATCH
    assert len(trainer.rollout.submitted) == feed.counts["read"] > 4 * BATCH  # more drawn than trained


SELECTORS_V1 = {
    "greso": [],
    "pass_rate_band": [],
    "adarft": ["+curriculum.difficulty=[" + ",".join(str(q % 5) for q in range(POOL)) + "]"],
    "mopps": ["+curriculum.ratio=4"],
}


@pytest.mark.parametrize("name", sorted(SELECTORS_V1))
def test_v1_selectors_train_full_batches_and_count_every_attempt(parquet, tmp_path, transfer_queue, name):
    """Each of the 2025-26 selectors with fixed-size requests as the v1 buffer's curriculum (sync): every
    update holds B groups of rollout.n, the filters' only groups they keep (greso: attempts that disagree;
    pass_rate_band: pass rate in [0.25, 0.75]), and the curriculum counted every attempt generated."""
    cfg = compose_v1(
        parquet,
        tmp_path,
        "trainer.v1.trainer_mode=sync",
        "trainer.save_freq=-1",
        "trainer.total_training_steps=3",
        f"+curriculum.name={name}",
        *SELECTORS_V1[name],
    )
    trainer = make_v1_trainer(cfg, transfer_queue)
    fit_v1(trainer)
    feed = _accounting(trainer)
    updates = trainer.actor_rollout_wg.updates
    assert [u["step"] for u in updates] == [1, 2, 3] and feed.curriculum.iteration == 3
    for u in updates:
        groups = _groups(u)
        assert len(groups) == BATCH and all(len(r) == N for _, r, _ in groups)
        if name == "greso":
            assert all(0 < sum(r) < N for _, r, _ in groups)
        if name == "pass_rate_band":
            assert all(0.25 * N <= sum(r) <= 0.75 * N for _, r, _ in groups)
    assert feed.curriculum.diagnostics()["curriculum/train_attempts"] == len(trainer.rollout.submitted) * N


def test_v1_per_question_attempts_end_to_end(parquet, tmp_path, transfer_queue, monkeypatch):
    """A curriculum whose requests ask 2 attempts of even questions and rollout.n = 4 of odd ones: verl's
    v1 trainer generates exactly that many per prompt (`__rollout_n__`), trains on groups of those sizes, and
    the curriculum counts every attempt generated, once."""
    import curricula
    from curricula.protocol import Request
    from curricula.uniform import Uniform

    class Alternating(Uniform):
        name = "alternating"
        per_question_attempts = True

        def _train_request(self, n=None):
            ids = self._sample(n)
            return Request("train", ids, np.where(ids % 2 == 0, 2, N))

    monkeypatch.setitem(curricula.CURRICULA, "alternating", Alternating)
    cfg = compose_v1(
        parquet,
        tmp_path,
        "trainer.v1.trainer_mode=sync",
        "trainer.save_freq=-1",
        "trainer.total_training_steps=3",
        "+curriculum.name=alternating",
    )
    trainer = make_v1_trainer(cfg, transfer_queue)
    fit_v1(trainer)
    feed = _accounting(trainer)
    submitted = trainer.rollout.submitted
    assert submitted and all(n == (2 if q % 2 == 0 else N) for _, q, n in submitted)
    updates = trainer.actor_rollout_wg.updates
    assert [u["step"] for u in updates] == [1, 2, 3]
    for u in updates:
        real = {k: v for k, v in u.items() if k in ("keys", "qids", "rewards", "adv")}
        rows = [i for i, k in enumerate(u["keys"]) if not k.startswith("pad")]  # verl pads to its divisor
        real = {k: [v[i] for i in rows] for k, v in real.items()}
        groups = _groups(real)
        assert len(groups) == BATCH and all(len(r) == (2 if q % 2 == 0 else N) for q, r, _ in groups)
    assert feed.curriculum.attempts.sum() == sum(n for *_, n in submitted) == feed.counts["attempts"]


@pytest.mark.parametrize("mode", ["sync", "colocate_async"])
def test_v1_speed_trains_screening_and_continuation_as_one_group(parquet, tmp_path, transfer_queue, mode):
    """SPEED through verl's v1 trainer (sync, and async with held groups across steps): every prompt is attempted 2 times (`__rollout_n__`: N_init = 2
    screening, N - N_init = 2 continuation, N = rollout.n = 4); a screened question neither all right nor all
    wrong is held in TransferQueue and trained with its continuation as one group of N under one uid, so
    GRPO's advantage is taken over all N rewards; the curriculum counts every attempt generated, once."""

    cfg = compose_v1(
        parquet,
        tmp_path,
        f"trainer.v1.trainer_mode={mode}",
        "trainer.save_freq=-1",
        "trainer.total_training_steps=3",
        "+curriculum.name=speed",
    )
    trainer = make_v1_trainer(cfg, transfer_queue)
    fit_v1(trainer)
    feed = _accounting(trainer)
    cur = feed.curriculum
    assert (cur.group_size, cur.screen_attempts) == (N, 2)
    submitted = trainer.rollout.submitted
    assert submitted and all(n == 2 for *_, n in submitted)
    updates = trainer.actor_rollout_wg.updates
    assert [u["step"] for u in updates] == [1, 2, 3] and cur.iteration == 3
    for u in updates:
        assert len(_joined_groups(u)) == BATCH
    assert feed.counts["attempts"] == 2 * feed.counts["read"]  # every group read had its 2 attempts
    assert cur.diagnostics()["curriculum/train_attempts"] == cur.attempts.sum()
    if mode == "sync":  # everything submitted came back and was reported before the run ended
        assert cur.attempts.sum() == 2 * len(submitted) == feed.counts["attempts"]


def _joined_groups(update):
    """SPEED's trained groups of an update, checked: by the uid field GRPO groups by, N rows of one question,
    the held screening's 2 (1 solved: it qualified) and the continuation's 2 under their own keys, and
    advantages equal to GRPO's over all N. Returns {continuation uid: held uid}."""
    import torch

    groups, joined = {}, {}
    for i, k in enumerate(update["keys"]):
        if not k.startswith("pad"):  # verl pads to its divisor
            groups.setdefault(update["uids"][i], []).append(i)
    for uid, rows in groups.items():
        parts = {update["keys"][i].split("_")[0] for i in rows}
        assert len(rows) == N and len(parts) == 2 and uid in parts  # held screening + its continuation
        assert len({update["qids"][i] for i in rows}) == 1
        screening = [i for i in rows if update["keys"][i].split("_")[0] != uid]
        assert sum(update["rewards"][i] for i in screening) == 1  # qualified: 0 < 1 of 2 solved < 2
        r = torch.tensor([update["rewards"][i] for i in rows])
        expected = ((r - r.mean()) / (r.std() + 1e-6)).abs() * 4  # 4 response tokens per row
        assert np.allclose([update["adv"][i] for i in rows], expected.numpy(), atol=1e-4)
        joined[uid] = (parts - {uid}).pop()
    return joined


def test_v1_speed_resume_keeps_held_groups(parquet, tmp_path, transfer_queue):
    """SPEED's held screening groups across a checkpoint (async): data.pt carries the feed's held uids, verl's
    TransferQueue checkpoint their trajectories; the resumed run trains them with their continuations as
    one group each, and no group twice."""
    import torch

    opts = (
        "trainer.v1.trainer_mode=colocate_async",
        "trainer.save_freq=2",
        "trainer.total_training_steps=4",
        "+curriculum.name=speed",
        f"+curriculum.screen_batch_size={4 * BATCH}",  # more qualify than a batch needs: some stay held
    )
    straight = make_v1_trainer(compose_v1(parquet, tmp_path, *opts), transfer_queue)
    fit_v1(straight)
    first = {k.split("_")[0] for u in straight.actor_rollout_wg.updates if u["step"] <= 2 for k in u["keys"]}
    saved = torch.load(tmp_path / "global_step_2" / "data.pt", weights_only=False)["dataset_state"]
    assert saved["held"]  # screening groups were held at the checkpoint
    resumed = make_v1_trainer(
        compose_v1(
            parquet,
            tmp_path,
            *opts,
            "trainer.resume_mode=resume_path",
            f"trainer.resume_from_path={tmp_path}/global_step_2",
            f"trainer.default_local_dir={tmp_path}/resumed",
        ),
        transfer_queue,
    )
    fit_v1(resumed)
    updates = resumed.actor_rollout_wg.updates
    assert [u["step"] for u in updates] == [3, 4]
    joined = {}
    for u in updates:
        joined.update(_joined_groups(u))
        assert len(_joined_groups(u)) == BATCH
    assert set(joined.values()) & set(saved["held"].values())  # held before the checkpoint, trained after
    again = {k.split("_")[0] for u in updates for k in u["keys"]}
    assert again and not again & first  # no group trained before the checkpoint is trained again


def test_v1_async_resume_restores_requests_in_flight(parquet, tmp_path, transfer_queue):
    """An async run checkpointed at step 2 (verl's data.pt carries the feed and curriculum, verl's TransferQueue
    checkpoint the groups in flight) resumes with the curriculum where it was, re-issues what was in flight,
    and trains no group twice."""
    import torch

    opts = (
        "trainer.v1.trainer_mode=colocate_async",
        "trainer.save_freq=2",
        "trainer.total_training_steps=4",
        "trainer.v1.colocate_async.num_warmup_batches=2",
        "+curriculum.name=learnability_filter",
        "+curriculum.ratio=2",
    )
    straight = make_v1_trainer(compose_v1(parquet, tmp_path, *opts), transfer_queue)
    fit_v1(straight)
    first = {k.split("_")[0] for u in straight.actor_rollout_wg.updates if u["step"] <= 2 for k in u["keys"]}
    saved = torch.load(tmp_path / "global_step_2" / "data.pt", weights_only=False)["dataset_state"]
    assert saved["curriculum"]["iteration"] >= 2 and (tmp_path / "global_step_2" / "transfer_queue").exists()
    assert saved["requests"]  # requests were in flight at the checkpoint

    resumed = make_v1_trainer(
        compose_v1(
            parquet,
            tmp_path,
            *opts,
            "trainer.resume_mode=resume_path",
            f"trainer.resume_from_path={tmp_path}/global_step_2",
            f"trainer.default_local_dir={tmp_path}/resumed",
        ),
        transfer_queue,
    )
    assert resumed.global_steps == 2
    fit_v1(resumed)
    feed = resumed.replay_buffer.feed
    updates = resumed.actor_rollout_wg.updates
    assert [u["step"] for u in updates] == [3, 4]
    assert (
        feed.curriculum.iteration >= saved["curriculum"]["iteration"] + 2
    )  # it went on from the saved state
    assert feed.counts["read"] >= saved["counts"]["read"]
    unreported = sum(int(np.isfinite(r["rows"]).sum()) for r in feed.requests.values() if r["keep"] is None)
    assert feed.curriculum.attempts.sum() == feed.counts["attempts"] - unreported
    again = {k.split("_")[0] for u in updates for k in u["keys"]}
    assert again and not again & first  # no group trained before the checkpoint is trained again


@pytest.mark.filterwarnings(
    "ignore:learnability. a training batch before the first buffer:UserWarning"
)  # drawn while the probe is out
def test_feed_reports_each_request_once_whatever_the_order():
    """CurriculumFeed alone: slots read in any order or dropped, each request reported once when all its slots
    are back, a slot never counted twice, a probe never drawn twice while it is out."""
    from curricula import make
    from integrations.verl.feed import CurriculumFeed

    cur = make(
        "learnability",
        POOL,
        batch_size=BATCH,
        num_candidates=16,
        buffer_size=8,
        refresh_every=3,
        probe_attempts=2,
    )
    feed = CurriculumFeed(cur, rollout_n=N)
    slots = [feed.next_prompt() for _ in range(16 + BATCH)]  # the probe, then a training request drawn ahead
    assert [s[3] for s in slots] == [2] * 16 + [N] * BATCH and len({s[1] for s in slots}) == 2
    order = np.random.default_rng(0).permutation(len(slots))
    for i in order[:-1]:
        q, no, slot, attempts = slots[i]
        if i == order[0]:
            assert feed.drop(no, slot) and not feed.read(no, slot, f"u{i}", np.ones(attempts))
        else:
            assert feed.read(no, slot, f"u{i}", np.ones(attempts)) and not feed.read(
                no, slot, "again", np.ones(3)
            )
    done_before = feed.report_ready()
    q, no, slot, attempts = slots[order[-1]]
    feed.read(no, slot, "last", np.ones(attempts))
    evicted = feed.report_ready() + done_before
    assert cur.attempts.sum() == feed.counts["attempts"] == sum(s[3] for s in slots) - slots[order[0]][3]
    assert not feed.report_ready() and feed.probe_out is None
    assert len(evicted) == 16 - (order[0] < 16) and len(feed.kept()) == BATCH - (order[0] >= 16)


# ---- separate_async, the regeneration cap, verl's own filter, a user's dataset class ----------------------


def make_separate_async_trainer(cfg, tq, delay=lambda q: 0):
    """verl's separate_async trainer (its constructor, its hybrid-switch path) with the stand-ins above plus
    the standalone rollout pool's: a load balancer actor that records which servers it routes to, and the
    standalone weight sync (a no-op). It starts, as verl's `_setup` leaves it, in rollout mode."""
    import ray
    from verl.trainer.ppo.v1.trainer_separate_async import HybridEngineMode

    @ray.remote
    class BalancerStandIn:
        def __init__(self):
            self.calls = []

        def add_servers(self, servers):
            self.calls.append("add")

        def remove_servers(self, addresses):
            self.calls.append("remove")

        def clear_sticky_cache(self):
            return {}

        def history(self):
            return self.calls

    trainer = make_v1_trainer(cfg, tq, delay)
    trainer.llm_server_manager = SimpleNamespace(server_addresses=["hybrid:0"], server_handles=[None])
    trainer.standalone_server_manager = SimpleNamespace(global_load_balancer=BalancerStandIn.remote())
    trainer.standalone_checkpoint_manager = SimpleNamespace(update_weights=lambda *a: {})
    trainer.current_mode = HybridEngineMode.ROLLOUT
    return trainer


SEPARATE_ASYNC = [
    "trainer.v1.trainer_mode=separate_async",
    "trainer.v1.separate_async.parameter_sync_step=1",
    "trainer.v1.separate_async.num_warmup_batches=3",
    "trainer.v1.separate_async.hybrid_rollout.enable_switch=True",
    "trainer.v1.separate_async.hybrid_rollout.switch_threshold_ratio=1.0",
    "actor_rollout_ref.rollout.nnodes=1",
    "actor_rollout_ref.rollout.n_gpus_per_node=1",
    "actor_rollout_ref.rollout.checkpoint_engine.backend=nccl",
    "trainer.v1.sampler.max_off_policy_threshold=2",
    "trainer.v1.sampler.max_off_policy_strategy=drop",
]


@pytest.mark.filterwarnings("ignore:learnability. a training batch before the first buffer:UserWarning")
def test_v1_separate_async_switch_path_goes_through_the_curriculum(parquet, tmp_path, transfer_queue):
    """verl's separate_async trainer with its hybrid switch: before each step it asks the buffer how many
    groups are sampleable and lends the hybrid engine to rollout until enough are (`wait_for_sampleable`),
    and after it asks again to decide whether to switch back. Those calls go through the curriculum: a
    finished probe counts 0 (nothing to train on) and is reported, groups finishing too stale are dropped
    through the feed (the curriculum's missing reports), so learnability refreshes every T iterations."""
    cfg = compose_v1(
        parquet,
        tmp_path,
        *SEPARATE_ASYNC,
        "trainer.save_freq=-1",
        "trainer.total_training_steps=12",
        *V1_LEARNABILITY,
    )
    trainer = make_separate_async_trainer(cfg, transfer_queue, delay=lambda q: 2 if q % 4 == 0 else 0)
    buffer, feed = trainer.replay_buffer, trainer.replay_buffer.feed
    counts, waits = [], []
    count, wait = buffer.get_sampleable_count, buffer.wait_for_sampleable

    def count_spy(global_steps, partition_id):
        n = count(global_steps, partition_id)
        lost = feed.counts["dropped"] + feed.counts["stale_kept"]
        counts.append((n, len(feed.kept()), lost, feed.curriculum.last_refresh))
        return n

    def wait_spy(global_steps, partition_id, target_count):
        out = wait(global_steps, partition_id, target_count)
        waits.append((target_count, len(out[0])))
        return out

    buffer.get_sampleable_count, buffer.wait_for_sampleable = count_spy, wait_spy
    fit_v1(trainer)
    import ray

    switches = ray.get(trainer.standalone_server_manager.global_load_balancer.history.remote())
    updates = trainer.actor_rollout_wg.updates
    assert [u["step"] for u in updates] == list(range(1, 13))
    assert waits and all(ready >= target for target, ready in waits)  # verl waited on the curriculum's count
    assert "remove" in switches and "add" in switches  # the hybrid engine went to the trainer and back
    assert counts and all(n <= kept for n, kept, _, _ in counts)  # never a probe or filtered group counted
    for u in updates:
        assert len(_groups(u)) == BATCH and all(len(r) == N for _, r, _ in _groups(u))  # no probe group
        assert all(u["step"] - s + 1 <= 2 for s in u["submitted"])  # the off-policy threshold holds
    cur = feed.curriculum
    assert feed.counts["dropped"] > 0  # stragglers finished too stale: dropped through the feed
    first_loss = next(i for i, (_, _, lost, _) in enumerate(counts) if lost)
    refreshed_at = counts[first_loss][3]
    assert cur.last_refresh > refreshed_at >= 0  # learnability refreshed again after groups went stale
    assert cur.diagnostics()["curriculum/probe_attempts"] >= 2 * 16 * 2
    _accounting(trainer)


@pytest.mark.parametrize("mode", ["sync", "colocate_async"])
def test_v1_regeneration_cap_ends_a_short_batch_and_says_so(parquet, tmp_path, transfer_queue, mode):
    """zero_variance_filter with max_num_gen_batches=2 on a policy that solves nothing: verl v1 used to
    refill for ever. Each batch now ends after 2 generation batches with a warning, trains on the groups
    kept plus the capped batch's own (zero-variance, advantage 0) groups, and the next step goes on."""
    cfg = compose_v1(
        parquet,
        tmp_path,
        f"trainer.v1.trainer_mode={mode}",
        "trainer.save_freq=-1",
        "trainer.total_training_steps=3",
        "+curriculum.name=zero_variance_filter",
        "+curriculum.max_num_gen_batches=2",
    )
    trainer = make_v1_trainer(cfg, transfer_queue)
    solves = P_BY_MOD3
    try:
        globals()["P_BY_MOD3"] = (0.0, 0.0, 0.0)  # the simulated learner solves nothing: every group agrees
        with pytest.warns(UserWarning, match="kept only 0 of 8 informative groups"):
            fit_v1(trainer)
    finally:
        globals()["P_BY_MOD3"] = solves
    feed = _accounting(trainer)
    updates = trainer.actor_rollout_wg.updates
    assert [u["step"] for u in updates] == [1, 2, 3]
    for u in updates:
        assert 0 < len(_groups(u)) <= BATCH and all(a == 0 for a in u["adv"])  # nothing to learn from
    if mode == "sync":  # each step: 2 generation batches, a short batch of their last 8 groups, no more
        assert feed.curriculum.iteration == 3 and len(trainer.rollout.submitted) == 3 * 2 * BATCH
        assert feed.counts["short_batches"] == 3 and feed.counts["filled"] == 3 * BATCH
    else:  # async: verl submits a batch per step ahead of training; every batch the cap ended is used
        assert feed.counts["short_batches"] >= 3 and feed.counts["filled"] >= 3 * BATCH
    assert feed.metrics()["curriculum/groups_short_batches"] == feed.counts["short_batches"]


def test_v1_verls_own_group_filter_is_refused_with_the_curriculum_option(parquet, tmp_path, transfer_queue):
    """verl skips algorithm.filter_groups for a custom buffer; with ours it is refused, naming what to use."""
    cfg = compose_v1(
        parquet,
        tmp_path,
        "trainer.v1.trainer_mode=sync",
        "+curriculum.name=uniform",
        "algorithm.filter_groups.enable=True",
        "algorithm.filter_groups.metric=acc",
    )
    with pytest.raises(ValueError, match=r"\+curriculum.name=zero_variance_filter") as err:
        make_v1_trainer(cfg, transfer_queue)
    assert "\n" not in str(err.value)


class TaggedDataset:
    """A user's own verl dataset class (say, one that adds images or tools): verl's RLHFDataset whose rows
    carry a field of its own. Built by the curriculum's dataset with verl's constructor arguments."""

    def __new__(cls, *args, **kwargs):
        from verl.utils.dataset.rl_dataset import RLHFDataset

        class Tagged(RLHFDataset):
            def __getitem__(self, item):
                row = super().__getitem__(item)
                row["extra_info"] = {**row["extra_info"], "tagged_row": int(item)}
                return row

        return Tagged(*args, **kwargs)


def test_v1_curriculum_wraps_a_users_dataset_class(parquet, tmp_path, transfer_queue):
    """`data.custom_cls` of the user's is kept (configure_v1 moves it to data.curriculum_base_cls) and the
    curriculum's dataset delegates to it: the training rows are the user's rows for the questions the
    curriculum picks, the validation rows the user's rows as they are."""
    from integrations.verl.main import configure_v1

    cfg = compose(
        parquet,
        tmp_path,
        *V1,
        "trainer.v1.trainer_mode=sync",
        "trainer.save_freq=-1",
        "trainer.total_training_steps=2",
        "+curriculum.name=uniform",
        f"data.custom_cls.path={__file__}",
        "data.custom_cls.name=TaggedDataset",
    )
    configure_v1(cfg)
    assert cfg.data.curriculum_base_cls.name == "TaggedDataset"
    assert cfg.data.custom_cls.name == "CurriculumRLDataset"
    trainer = make_v1_trainer(cfg, transfer_queue)
    # the train and the validation dataset are the user's, wrapped
    assert (
        type(trainer.train_dataset.dataset).__name__ == type(trainer.val_dataset.dataset).__name__ == "Tagged"
    )
    row = trainer.train_dataset[0]
    info = row["extra_info"]
    assert info["tagged_row"] == info["curriculum_index"]  # the user's row of the curriculum's question
    assert trainer.val_dataset[5]["extra_info"]["tagged_row"] == 5 and trainer.val_dataset.feed is None
    fit_v1(trainer)
    assert [u["step"] for u in trainer.actor_rollout_wg.updates] == [1, 2]
