"""Short demo episode loop: open questions, answer some right and some wrong, print the verifier's verdicts."""

import gymnasium as gym

import mathenv  # noqa: F401

env = gym.make("MathReasoning-v0")
for episode in range(5):
    obs, info = env.reset(seed=episode)
    answer = info["answer"] if episode % 2 == 0 else "0"
    _, reward, terminated, _, step_info = env.step(f"So the answer is \\boxed{{{answer}}}.")
    print(
        f"[{episode}] {info['question']!r} gold={info['answer']} answered={answer} -> {step_info['reason']} "
        f"reward={reward}"
    )
