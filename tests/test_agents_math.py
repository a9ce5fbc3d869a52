"""The algorithms' maths against hand-computed values on small tensors."""

import math

import numpy as np
import pytest
import torch

from agents.algos.grpo import group_advantages
from agents.algos.ppo import gae
from agents.algos.registry import get as get_algorithm
from agents.algos.vineppo import step_advantages, step_boundaries
from agents.core.algorithm import pack
from agents.core.losses import kl_penalty, kl_to_reference, last_response_index, masked_whiten, policy_loss


def test_pack_marks_response_positions():
    t = pack([[5, 6], [7]], [[1, 2, 3], [4]], pad_id=0)
    assert t["input_ids"].tolist() == [[5, 6, 1, 2, 3], [7, 4, 0, 0, 0]]
    assert t["attention_mask"].tolist() == [[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]]
    assert t["response_mask"].tolist() == [[0, 0, 1, 1, 1], [0, 1, 0, 0, 0]]
    assert last_response_index(t["response_mask"]).tolist() == [4, 1]


def test_gae_matches_hand_computation():
    # one sequence: query at t=0, response at t=1..3; rewards only at the end; gamma=0.9, lam=0.8
    mask = torch.tensor([[0.0, 1, 1, 1, 0]])
    values = torch.tensor([[0.0, 0.5, 0.4, 0.7, 0.0]])
    rewards = torch.tensor([[0.0, 0.0, 0.0, 1.0, 0.0]])
    g, lam = 0.9, 0.8
    d3 = 1.0 - 0.7  # terminal: no bootstrap
    d2 = 0.0 + g * 0.7 - 0.4
    d1 = 0.0 + g * 0.4 - 0.5
    a3 = d3
    a2 = d2 + g * lam * a3
    a1 = d1 + g * lam * a2
    adv, ret = gae(rewards, values, mask, g, lam)
    assert adv[0].tolist() == pytest.approx([0.0, a1, a2, a3, 0.0], abs=1e-6)
    assert ret[0].tolist() == pytest.approx([0.0, a1 + 0.5, a2 + 0.4, a3 + 0.7, 0.0], abs=1e-6)


def test_gae_with_gamma_lambda_one_is_return_minus_value():
    mask = torch.tensor([[1.0, 1, 1, 0], [0, 1, 1, 1]])
    values = torch.tensor([[0.2, 0.3, 0.1, 0.0], [0.0, 0.6, 0.5, 0.9]])
    rewards = torch.tensor([[-0.1, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    adv, ret = gae(rewards, values, mask, 1.0, 1.0)
    assert adv[0, :3].tolist() == pytest.approx([0.9 - 0.2, 1.0 - 0.3, 1.0 - 0.1])
    assert adv[1, 1:].tolist() == pytest.approx([-0.6, -0.5, -0.9])
    assert ret[0, :3].tolist() == pytest.approx([0.9, 1.0, 1.0])
    assert adv[1, 0] == 0 and adv[0, 3] == 0  # masked positions stay zero


def test_policy_loss_matches_the_clipped_surrogate():
    torch.manual_seed(0)
    logp = torch.randn(2, 5)
    old = logp + 0.3 * torch.randn(2, 5)
    adv = torch.randn(2, 5)
    mask = torch.tensor([[0.0, 1, 1, 1, 1], [0, 0, 1, 1, 0]])
    eps = 0.2
    loss, stats = policy_loss(logp, old, adv, mask, eps)
    expected, n, clipped = 0.0, 0, 0
    for i in range(2):
        for t in range(5):
            if mask[i, t]:
                r = math.exp(logp[i, t] - old[i, t])
                a = float(adv[i, t])
                expected += max(-a * r, -a * min(max(r, 1 - eps), 1 + eps))
                clipped += abs(r - 1) > eps
                n += 1
    assert float(loss) == pytest.approx(expected / n, rel=1e-5)
    assert stats["policy/clip_frac"] == pytest.approx(clipped / n)


def test_policy_loss_gradient_vanishes_once_clipped():
    logp = torch.tensor([[0.5]], requires_grad=True)
    old = torch.tensor([[0.0]])  # ratio e^0.5 = 1.65 > 1.2
    loss, _ = policy_loss(logp, old, torch.tensor([[1.0]]), torch.tensor([[1.0]]), 0.2)
    loss.backward()
    assert logp.grad.item() == 0.0  # positive advantage, ratio above 1 + eps: no further push
    logp.grad = None
    loss, _ = policy_loss(logp, old, torch.tensor([[-1.0]]), torch.tensor([[1.0]]), 0.2)
    loss.backward()
    assert logp.grad.item() == pytest.approx(math.exp(0.5))  # negative advantage is never clipped from above


def test_kl_to_reference_is_k3_and_nonnegative():
    logp = torch.tensor([-1.0, -2.0, -0.5])
    ref = torch.tensor([-1.0, -1.0, -2.0])
    k3 = kl_to_reference(logp, ref)
    d = ref - logp
    assert k3.tolist() == pytest.approx((torch.exp(d) - d - 1).tolist())
    assert k3[0] == 0 and (k3 >= 0).all()


def test_group_advantages_normalise_within_each_group():
    rewards = np.array([1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0])
    group = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    a = group_advantages(rewards, group, scale=True, eps=0.0)
    std = math.sqrt(0.25 * 0.75)
    assert a[:4].tolist() == pytest.approx([0.75 / std, -0.25 / std, -0.25 / std, -0.25 / std])
    assert a[4:].tolist() == [0.0] * 4  # all solved: zero advantage, the waste learnability avoids
    assert group_advantages(rewards, group, scale=False)[:2].tolist() == pytest.approx([0.75, -0.25])


def test_masked_whiten():
    x = torch.tensor([[1.0, 2.0, 3.0, 100.0]])
    m = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    w = masked_whiten(x, m)
    assert w[0, 3] == 0
    # by hand: mean 2, sample variance ((1-2)^2 + 0 + (3-2)^2) / (3 - 1) = 1, so the values are x - 2
    assert w[0, :3].tolist() == pytest.approx([-1.0, 0.0, 1.0], rel=1e-6)


def test_step_boundaries_split_at_line_breaks():
    tokens = ["3", " +", " 4", " =", " 7", "\n", "The", " answer", "\n", "\n", "is", " 7", "\n"]
    assert step_boundaries(tokens, max_steps=8) == [0, 6, 10]  # runs of breaks count once; none at the end
    assert step_boundaries(tokens, max_steps=1) == [0]
    many = ["a", "\n"] * 20 + ["end"]
    b = step_boundaries(many, max_steps=4)
    assert len(b) == 4 and b[0] == 0 and b == sorted(set(b))


def test_step_advantages_are_value_differences():
    # steps start at 0, 3, 5 in a 7-token response; V(s0)=0.25, V(s1)=0.5, V(s2)=1.0, final reward 1
    a = step_advantages([0, 3, 5], [0.25, 0.5, 1.0], 1.0, 7)
    assert a.tolist() == pytest.approx([0.25] * 3 + [0.5] * 2 + [0.0] * 2)
    # a wrong final answer after a promising prefix gets the blame on the last step only
    a = step_advantages([0, 3, 5], [0.25, 0.5, 1.0], 0.0, 7)
    assert a.tolist() == pytest.approx([0.25] * 3 + [0.5] * 2 + [-1.0] * 2)
    assert a.dtype == np.float32


def test_kl_penalty_sums_over_tokens_and_averages_over_sequences():
    # two responses: 3 tokens and 1 token; per-token k3 values by hand
    logp = torch.tensor([[-1.0, -2.0, -0.5, 0.0], [-1.0, 0.0, 0.0, 0.0]])
    ref = torch.tensor([[-1.5, -1.0, -0.5, 0.0], [-3.0, 0.0, 0.0, 0.0]])
    mask = torch.tensor([[1.0, 1, 1, 0], [1, 0, 0, 0]])

    def k3(lp, rf):
        d = rf - lp
        return math.exp(d) - d - 1

    seq0 = k3(-1.0, -1.5) + k3(-2.0, -1.0) + k3(-0.5, -0.5)
    seq1 = k3(-1.0, -3.0)
    assert float(kl_penalty(logp, ref, mask, "sequence_sum")) == pytest.approx((seq0 + seq1) / 2, rel=1e-6)
    assert float(kl_penalty(logp, ref, mask, "token_mean")) == pytest.approx((seq0 + seq1) / 4, rel=1e-6)
    # a micro-batch's share of a larger minibatch: divided by the minibatch's counts, not its own
    assert float(kl_penalty(logp, ref, mask, "sequence_sum", sequences=8)) == pytest.approx((seq0 + seq1) / 8)
    # per-token estimates are clipped at 10, as in the reference
    far = kl_penalty(torch.tensor([[-20.0]]), torch.tensor([[0.0]]), torch.tensor([[1.0]]), "sequence_sum")
    assert float(far) == pytest.approx(10.0)
    with pytest.raises(ValueError, match="kl_aggregation"):
        kl_penalty(logp, ref, mask, "sum")


@pytest.mark.parametrize("algo", ["grpo", "vineppo"])
def test_micro_batches_add_up_to_the_minibatch_loss(algo):
    """Accumulating micro-batch losses normalised by the minibatch's counts gives the whole minibatch's loss,
    for the surrogate (token mean) and the KL (sequence mean) alike; GRPO's and VinePPO's written-out losses
    are the same formula."""
    torch.manual_seed(0)
    B, W = 6, 5
    logp = torch.randn(B, W)
    mb = {
        "old_logprobs": logp + 0.1 * torch.randn(B, W),
        "advantages": torch.randn(B, W),
        "ref_logprobs": logp + 0.2 * torch.randn(B, W),
        "response_mask": (torch.rand(B, W) > 0.3).float(),
    }
    mb["response_mask"][:, 0] = 1.0
    cls = get_algorithm(algo)
    config = cls.config_class(kl_coef=0.5)
    algorithm = cls(config, None, None)
    norm = {"tokens": float(mb["response_mask"].sum()), "sequences": float(B)}
    whole, _ = algorithm.loss(mb, logp, None, norm)
    parts = sum(
        algorithm.loss({k: v[rows] for k, v in mb.items()}, logp[rows], None, norm)[0]
        for rows in (slice(0, 2), slice(2, 6))
    )
    assert float(parts) == pytest.approx(float(whole), rel=1e-6)
    # and the whole equals the formula: token-mean surrogate + kl_coef * per-sequence KL sum averaged
    pg, _ = policy_loss(logp, mb["old_logprobs"], mb["advantages"], mb["response_mask"], config.clip_coef)
    kl = (kl_to_reference(logp, mb["ref_logprobs"]) * mb["response_mask"]).sum(1).mean()
    assert float(whole) == pytest.approx(float(pg + 0.5 * kl), rel=1e-6)


@pytest.mark.parametrize(
    "schedule,expected",
    [
        # 10 updates, warmup 2: (u + 1) / 2 for u < 2, then the schedule over the remaining 8
        ("constant", [0.5, 1.0] + [1.0] * 8),
        ("linear", [0.5, 1.0] + [1 - k / 8 for k in range(8)]),
        ("cosine", [0.5, 1.0] + [0.5 * (1 + math.cos(math.pi * k / 8)) for k in range(8)]),
    ],
)
def test_learning_rate_schedule_by_hand(schedule, expected):
    from agents.core.config import TrainConfig
    from agents.trainer import lr_factor

    by_steps = TrainConfig(lr_schedule=schedule, warmup_steps=2, steps=10)
    assert [lr_factor(by_steps, u, 10) for u in range(10)] == pytest.approx(expected)
    by_ratio = TrainConfig(lr_schedule=schedule, warmup_ratio=0.2, steps=10)
    assert [lr_factor(by_ratio, u, 10) for u in range(10)] == pytest.approx(expected)
    # two optimiser updates per iteration: warmup_steps counts iterations, so 2 iterations are 4 updates
    two = TrainConfig(lr_schedule=schedule, warmup_steps=2, minibatches=2, steps=5)
    assert [lr_factor(two, u, 10) for u in range(4)] == pytest.approx([0.25, 0.5, 0.75, 1.0])
