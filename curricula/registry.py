"""The curricula by name (`CURRICULA`) and `make`, which builds one from its name and options: the one list
of curriculum names, used by `curricula.make`, `CurriculumWrapper`, the trainer's config and the CLIs.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from curricula.adarft import AdaRFT
from curricula.easy_to_hard import EasyToHard, difficulty_from_questions
from curricula.greso import Greso
from curricula.learnability import Learnability, LearnabilityFilter
from curricula.mopps import MoPPS
from curricula.pass_rate_band import PassRateBand
from curricula.posterior import Posterior
from curricula.prioritized import Prioritized
from curricula.protocol import Curriculum
from curricula.speed import Speed
from curricula.uniform import Uniform
from curricula.zero_variance import ZeroVarianceFilter

CURRICULA: dict[str, type[Curriculum]] = {
    cls.name: cls
    for cls in (
        Uniform,
        Learnability,
        LearnabilityFilter,
        Prioritized,
        EasyToHard,
        ZeroVarianceFilter,
        Posterior,
        Greso,
        Speed,
        PassRateBand,
        AdaRFT,
        MoPPS,
    )
}

#: the paper's symbols (Foster & Foerster 2025), accepted wherever options are: alias -> option name
#: (rho is the same word in both)
ALIASES = {
    "T": "refresh_every",
    "N": "num_candidates",
    "K": "buffer_size",
    "L": "probe_attempts",
    "N_l": "batch_size",
}


def canonical_options(options: dict[str, Any]) -> dict[str, Any]:
    """`options` with the paper's symbols (`T`, `N`, `K`, `L`, `N_l`) renamed to the option names, so a
    reader of the paper can write `make("learnability", n, T=10, N=256, K=64)`. Giving a symbol and its
    name together is an error naming both."""
    out = dict(options)
    for alias, name in ALIASES.items():
        if alias in out:
            if name in out:
                raise ValueError(
                    f"{alias} and {name} are the same option ({alias} is the paper's symbol for "
                    f"{name}); give one of them"
                )
            out[name] = out.pop(alias)
    return out


def make(
    name: str,
    num_questions: int | None = None,
    seed: int = 0,
    *,
    questions: Sequence[Any] | None = None,
    **options: Any,
) -> Curriculum:
    """Build the curriculum `name` over a pool of `num_questions` questions (ids 0..num_questions-1).

    `questions` (the env's `Question` list) may stand for the pool: it gives `num_questions`, and
    `easy_to_hard` its difficulty order when `difficulty=` is not passed. Options may use the paper's
    symbols (`T`, `N`, `K`, `L`, `N_l`; see `ALIASES`)."""
    options = canonical_options(options)
    if name not in CURRICULA:
        raise ValueError(f"unknown curriculum {name!r}; choose one of {sorted(CURRICULA)}")
    if questions is not None:
        if num_questions is not None and num_questions != len(questions):
            raise ValueError(f"num_questions={num_questions} but {len(questions)} questions were given")
        num_questions = len(questions)
        if CURRICULA.get(name, Curriculum).needs_difficulty and options.get("difficulty") is None:
            options["difficulty"] = difficulty_from_questions(questions, name)
    if num_questions is None:
        raise ValueError("pass num_questions (the pool size) or questions (the pool)")
    cls = CURRICULA[name]
    accepted = [o for o, _, _ in option_help(name)]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"{name} has no option(s) {unknown}; its options are {accepted}")
    return cls(num_questions, seed, **options)


def option_help(name: str) -> list[tuple[str, Any, str]]:
    """(option, default, help) of each option of the curriculum `name`, in signature order: what
    `--curriculum NAME --help` lists (help from the class's `options_doc`; the shared ones from the base)."""
    cls = CURRICULA[name]
    docs = {**Curriculum.options_doc, **cls.options_doc}
    return [
        (p.name, p.default, docs.get(p.name, ""))
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.name not in ("self", "num_questions", "seed")
    ]


def with_group_size(name: str, options: dict[str, Any], group_size: int | None) -> dict[str, Any]:
    """`options` with `group_size` set to the driver's G for a curriculum whose requests name attempt counts
    (SPEED's trained group of N attempts), unless the options set it: the one place drivers (the wrapper, our
    trainer, verl's v1 buffer) hand their group size to a curriculum. TRL's trainer takes a curriculum built
    by its user, who passes `group_size` (a multiple of num_generations) there."""
    opts = dict(options)
    cls = CURRICULA.get(name)
    if (
        group_size is not None
        and cls is not None
        and "group_size" in inspect.signature(cls.__init__).parameters
    ):
        opts.setdefault("group_size", int(group_size))
    return opts
