"""Every metric a training run logs, named once: the stable keys of metrics.jsonl, TensorBoard and
summary.json. Code refers to these constants; docs/agents.md's table comes from `DESCRIPTIONS`.

Families: `train/` (the step's training attempts), `policy/` and `loss/` (the update), `value/` (PPO's
critic), `vine/` (VinePPO's Monte-Carlo values), `eval/` (held-out), `compute/` (attempts and tokens
generated so far), `time/` (seconds in this step), `curriculum/` (the curriculum's own diagnostics, named in
curricula.statistics: its all- and none-solved shares are of the groups it kept, `train/`'s of all attempted;
both come from `curricula.statistics.solved_extremes`).
"""

from __future__ import annotations

import configparser
import contextlib
import json
import math
import netrc
import os
import urllib.parse
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

DESCRIPTIONS: dict[str, str] = {}


def _metric(name: str, description: str) -> str:
    DESCRIPTIONS[name] = description
    return name


STEP = _metric("step", "training iterations done (0: before any update)")
PARAMETERS = _metric("model/parameters", "parameters of the policy")

TRAIN_REWARD = _metric("train/reward", "mean reward of the step's training attempts")
TRAIN_ACCURACY = _metric("train/accuracy", "share of the step's training attempts that were correct")
TRAIN_ALL_SOLVED = _metric(
    "train/frac_all_solved_of_attempted",
    "share of the questions attempted for training (kept or not) that every attempt solved (p = 1)",
)
TRAIN_NONE_SOLVED = _metric(
    "train/frac_none_solved_of_attempted",
    "share of the questions attempted for training (kept or not) that no attempt solved (p = 0)",
)
TRAIN_ZERO_ADVANTAGE = _metric(
    "train/frac_zero_advantage",
    "share of attempted questions whose attempts all got the same reward: no signal for GRPO",
)
TRAIN_LEARNABILITY = _metric("train/batch_learnability", "mean p(1 - p) of the attempted questions")
TRAIN_RESPONSE_TOKENS = _metric("train/response_tokens", "mean response length in tokens")
TRAIN_TRUNCATED = _metric(
    "train/frac_truncated", "share of responses cut at max_new_tokens before they ended"
)
TRAIN_QUESTIONS = _metric("train/questions_attempted", "questions attempted for this step's training batch")
TRAIN_GROUPS_KEPT = _metric("train/groups_kept", "question groups trained on (a filter keeps fewer)")

LR = _metric("policy/lr", "the policy's learning rate at the step's last update")
GRAD_NORM = _metric("policy/grad_norm", "gradient norm before clipping, mean over the step's updates")
ENTROPY = _metric("policy/entropy", "mean entropy of the policy over response tokens")
CLIP_FRAC = _metric("policy/clip_frac", "share of response tokens whose ratio pi/pi_old left the clip range")
APPROX_KL = _metric("policy/approx_kl", "k3 estimate of KL(pi_old || pi) over the update: how far it moved")
KL_REF_K3 = _metric(
    "policy/kl_ref_k3", "GRPO/VinePPO: per-token k3 estimate of KL(pi || pi_ref), the term in the loss"
)
KL_REF_K1 = _metric("policy/kl_ref_k1", "PPO: per-token log pi_old - log pi_ref, the penalty in the reward")
LOSS_POLICY = _metric("loss/policy", "the clipped surrogate")
LOSS_VALUE = _metric("loss/value", "PPO: the critic's clipped value loss")
LOSS_TOTAL = _metric("loss/total", "what was minimised")
VALUE_MEAN = _metric("value/mean", "PPO: the critic's mean value over response tokens")
VALUE_RETURNS = _metric("value/returns_mean", "PPO: mean GAE return over response tokens")
VINE_STATES = _metric("vine/states", "VinePPO: states whose value was estimated by Monte-Carlo rollouts")
VINE_STEPS = _metric("vine/steps_per_response", "VinePPO: reasoning steps per response")
VINE_VALUE_MEAN = _metric("vine/value_mean", "VinePPO: mean Monte-Carlo value of those states")

EVAL_PASS1 = _metric("eval/pass@1", "greedy accuracy on the fixed held-out subset")
EVAL_SAMPLED = _metric(
    "eval/sampled_accuracy",
    "accuracy of answers sampled at eval_temperature (default: the "
    "training temperature) on "
    "the held-out subset",
)
EVAL_QUESTIONS = _metric("eval/questions", "size of the held-out subset")

#: compute counters, cumulative over the run
COMPUTE = {
    "attempts_train": "training attempts generated",
    "attempts_probe": "probe attempts generated (learnability's estimates)",
    "attempts_vine": "VinePPO's Monte-Carlo completions",
    "attempts_eval": "evaluation answers generated (not training compute)",
    "generated_tokens": "tokens generated for training, probes and rollouts",
    "trained_sequences": "sequences trained on",
}
for _k, _d in COMPUTE.items():
    _metric(f"compute/{_k}", _d)
ATTEMPTS_TOTAL = _metric(
    "compute/attempts_total",
    "attempts the run generated to learn: training + probes + "
    "VinePPO rollouts (the x axis of equal-compute comparisons)",
)
#: where a step's seconds went
TIMERS = ("generation", "scoring", "learning")
for _k in TIMERS:
    _metric(f"time/{_k}", f"seconds of {_k} in this step")
TIME_STEP = _metric("time/step", "seconds of the whole step (evaluation and checkpoint not counted)")


def jsonable(v: Any) -> Any:
    """A metric value as JSON can hold it: arrays as lists, numpy scalars as numbers, inf and nan as null."""
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


class MetricsLogger:
    """Appends one JSON record per step to metrics.jsonl and to the `loggers` asked for (--report-to):
    TensorBoard (out/tensorboard, when installed) and Weights & Biases (out/wandb; offline with
    WANDB_MODE=offline, the project from WANDB_PROJECT, else "mathenv", the run named after `out`).

    After a resume from step s, records past s are dropped from metrics.jsonl (they are written again) and
    TensorBoard's events past s are purged, so neither holds a step twice. W&B continues the same run (its id
    is kept in out/wandb/run-id); W&B itself ignores a step it already holds, so a step repeated after a
    crash keeps its first values there.
    """

    def __init__(
        self,
        out: Path,
        loggers: Iterable[str] | bool,
        resume_step: int | None = None,
        config: dict[str, Any] | None = None,
    ) -> None:
        if isinstance(loggers, bool):  # the old `tensorboard` switch
            loggers = {"tensorboard"} if loggers else set()
        loggers = set(loggers)
        # here, not at the top, for weight (not a cycle): agents.curves reads metrics without torch
        from agents.checkpoint import write_text

        self.path = Path(out) / "metrics.jsonl"
        if resume_step is None:
            self.path.unlink(missing_ok=True)
        elif self.path.exists():  # rewritten aside and renamed: a kill mid-rewrite loses nothing
            write_text(
                self.path,
                "".join(
                    line + "\n"
                    for line in read_records_text(self.path)
                    if json.loads(line).get(STEP, 0) <= resume_step
                ),
            )
        self._tb = None
        #: where TensorBoard events go, None when not logging to TensorBoard
        self.tensorboard_dir: Path | None = None
        if "tensorboard" in loggers:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                SummaryWriter = None  # noqa: N806  (optional: skipped when not installed)
            if SummaryWriter is not None:
                purge = None if resume_step is None else resume_step + 1
                self.tensorboard_dir = Path(out) / "tensorboard"
                self._tb = SummaryWriter(str(self.tensorboard_dir), purge_step=purge)
        self._wandb = None
        if "wandb" in loggers:
            self._wandb = _wandb_run(Path(out), config or {}, resume=resume_step is not None)

    def log(self, record: dict[str, Any]) -> dict[str, Any]:
        record = {k: jsonable(v) for k, v in record.items()}
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        scalars = {k: v for k, v in record.items() if isinstance(v, (int, float)) and k != STEP}
        if self._tb is not None:
            for k, v in scalars.items():
                self._tb.add_scalar(k, v, record[STEP])
        if self._wandb is not None:
            self._wandb.log(scalars, step=record[STEP])
        return record

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
        if self._wandb is not None:
            import wandb

            self._wandb.finish()
            # finish() can return before W&B's service has written the run's last records; teardown waits for
            # it, so that out/wandb is complete when the run ends (for `wandb sync`, or a reader right after)
            wandb.teardown()


def wandb_login_problem() -> str | None:
    """Why W&B could not log online here, or None: it needs an API key (`wandb login` writes one to ~/.netrc;
    WANDB_API_KEY; an identity token file) unless WANDB_MODE is offline or disabled. Checked before a run
    touches its folder: wandb.init would otherwise stop the run half made, with a 40-line traceback. Read
    the way wandb reads them, without importing wandb (seconds)."""
    env = os.environ
    if env.get("WANDB_MODE", "").lower() in ("offline", "dryrun", "disabled") or env.get(
        "WANDB_DISABLED", ""
    ).lower() in ("1", "true", "yes"):
        return None
    if env.get("WANDB_API_KEY") or env.get("WANDB_IDENTITY_TOKEN_FILE"):
        return None
    host = urllib.parse.urlparse(env.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname
    netrc_path = Path(env.get("NETRC") or Path.home() / ".netrc").expanduser()
    try:
        if netrc.netrc(netrc_path).authenticators(host or "api.wandb.ai"):
            return None
    except (OSError, netrc.NetrcParseError):
        pass
    settings = Path(env.get("WANDB_CONFIG_DIR") or Path.home() / ".config" / "wandb") / "settings"
    parser = configparser.ConfigParser()
    with contextlib.suppress(OSError, configparser.Error):
        parser.read(settings)
        if parser.get("default", "api_key", fallback=""):
            return None
    return (
        f"--report-to wandb: not logged in to Weights & Biases (no API key in WANDB_API_KEY or "
        f"{netrc_path}); run `wandb login` once, or set WANDB_MODE=offline to log without an account "
        f"(`wandb sync` uploads later), or drop wandb from --report-to"
    )


def _wandb_run(out: Path, config: dict[str, Any], resume: bool) -> Any:
    """A W&B run for the run folder `out`: a new one, or after a resume the one whose id out/wandb/run-id keeps."""
    import wandb

    folder = out / "wandb"
    folder.mkdir(parents=True, exist_ok=True)
    id_file = folder / "run-id"
    run_id = id_file.read_text().strip() if resume and id_file.exists() else uuid.uuid4().hex[:12]
    id_file.write_text(run_id)
    return wandb.init(
        project=os.environ.get("WANDB_PROJECT", "mathenv"),
        name=out.resolve().name,
        dir=str(out),
        config=config,
        id=run_id,
        resume="allow",
    )


def read_records_text(path: Path) -> list[str]:
    """The complete JSON lines of a metrics file; a last line cut off mid-write (a crash) is dropped."""
    lines = [line for line in Path(path).read_text(errors="replace").splitlines() if line.strip()]
    out = []
    for i, line in enumerate(lines):
        try:
            json.loads(line)
        except json.JSONDecodeError:
            if i == len(lines) - 1:
                break  # the partial last record of a run that was killed while writing
            raise ValueError(
                f"{path}, line {i + 1}: not a JSON record ({line[:60]!r}...); the file is damaged "
                f"in the middle, not just cut off at the end"
            ) from None
        out.append(line)
    return out


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """The records of a metrics.jsonl (tolerating a cut-off last line)."""
    return [json.loads(line) for line in read_records_text(Path(path))]
