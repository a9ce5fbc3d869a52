import warnings

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

import mathenv  # noqa: F401


def test_registered_and_env_checker_clean():
    env = gym.make("MathReasoning-v0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped, skip_render_check=True)


def test_reset_seed_determinism_and_options():
    env = gym.make("MathReasoning-v0")
    obs1, info1 = env.reset(seed=7)
    obs2, info2 = env.reset(seed=7)
    assert obs1 == obs2 and info1["question_id"] == info2["question_id"]
    obs, info = env.reset(options={"question_id": 3})
    assert info["question_id"] == 3 and info["question"] in obs
    _, reward, terminated, truncated, step_info = env.step(f"\\boxed{{{info['answer']}}}")
    assert reward == 1.0 and terminated and not truncated and step_info["reason"] == "correct"
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(options={"questionid": 1})
