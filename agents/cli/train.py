"""Train a policy: `python -m agents.train --algo grpo --curriculum learnability --steps 20 --out runs/x`.

Options come, later ones winning, from: the algorithm's config defaults (the `cpu` setting: SmolLM2-135M on
easy arithmetic), a `--preset`, a `--config` JSON file, and the command line. Every field of the config
dataclasses is a flag (`--learning-rate 1e-5`, `--levels 1 2 3`, `--curriculum-options '{"preset": "fast"}'`);
the options below are the shared ones and those of the algorithm named by --algo (see the end). `--resume`
continues the run in `--out` with the settings of its config.json (flags given override them; a change
other than more --steps or bookkeeping is refused, naming it); a run ends by printing its summary (also
`--out`/summary.json).
A mistake in the options or the data ends with one line saying what to change (exit status 2).
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import sys
import textwrap
import types
import typing
from pathlib import Path
from typing import Any

from agents.algos.registry import ALGORITHMS
from agents.algos.registry import get as get_algorithm
from agents.cli.args import ArgumentParser, exit_on_user_error
from agents.core.config import ConfigError, TrainConfig
from agents.models.policy import HUB_NAMES, LOCAL_NAMES
from agents.presets import RUN_PRESETS
from agents.run_checks import check_run
from curricula import CURRICULA
from mathenv.datasets import NAMES as DATASET_NAMES

#: fields whose values are a registry's names: --help lists them as the flag's choices
REGISTERED = {"algo": ALGORITHMS, "curriculum": CURRICULA}
#: names listed in --help after a field's own text (the values these options accept besides paths)
NAMED_VALUES = {"model": ("short names", (*HUB_NAMES, *LOCAL_NAMES)), "dataset": ("names", DATASET_NAMES)}


def option_flag(name: str) -> str:
    """A config field's flag (learning_rate -> --learning-rate), as the parser and the experiment grid spell it."""
    return "--" + name.replace("_", "-")


def json_object(text: str) -> dict[str, Any]:
    """An option holding a JSON object (--curriculum-options): argparse names the option when this fails."""
    try:
        value = json.loads(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(
            f'{text!r} is not JSON ({e}); pass an object such as \'{{"preset": "fast"}}\''
        ) from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(
            f"{text!r} is a JSON {type(value).__name__}, not an object of options; "
            f"pass e.g. '{{\"preset\": \"fast\"}}' ('{{}}' for none)"
        )
    return value


def _presets_text() -> str:
    """Every preset with all the fields it sets, wrapped, for --help's epilog."""
    lines = []
    for name, preset in RUN_PRESETS.items():
        fields = ", ".join(f"{f}={json.dumps(v)}" for f, v in preset.items()) or "the defaults"
        lines.append(
            textwrap.fill(f"{name}: {fields}", width=110, initial_indent="  ", subsequent_indent="    ")
        )
    return "\n".join(lines)


def curriculum_help(name: str) -> str:
    """The options of curriculum `name` as --help lists them: one line each, with its default and help."""
    from curricula import CURRICULA, option_help

    first = " ".join((CURRICULA[name].__doc__ or "").strip().split("\n\n")[0].split())
    doc = first.split(". ")[0].split(": ")[0].rstrip(".")
    lines = [f"Options of --curriculum {name} ({doc}), given as --curriculum-options JSON:"]
    for option, default, text in option_help(name):
        shown = "required" if default is inspect.Parameter.empty else f"default {default!r}"
        lines.append(f"  {option} ({shown}): {text}" if text else f"  {option} ({shown})")
    return "\n".join(lines)


def _parser(config_cls: type[TrainConfig], curriculum: str | None = None) -> argparse.ArgumentParser:
    algo = config_cls.__dataclass_fields__["algo"].default
    epilog = (
        f"presets (--preset NAME), every field each one sets:\n{_presets_text()}\n\n"
        f"Options above are for --algo {algo}; each algorithm's own options appear "
        f"with --algo NAME --help (NAME: {', '.join(ALGORITHMS)}); each curriculum's with --curriculum NAME "
        f"--help."
    )
    from curricula import CURRICULA

    if curriculum in CURRICULA:
        epilog += "\n\n" + curriculum_help(curriculum)
    ap = ArgumentParser(
        prog="python -m agents.train",
        description=__doc__,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        "--preset",
        choices=sorted(RUN_PRESETS),
        help="named setting applied before --config and flags (the fields each one sets are listed at the end)",
    )
    ap.add_argument("--config", type=Path, help="JSON file of config fields")
    hints = typing.get_type_hints(config_cls)
    for f in dataclasses.fields(config_cls):
        hint = hints[f.name]
        kind = hint
        optional = False
        if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
            args = [a for a in typing.get_args(hint) if a is not type(None)]
            kind, optional = args[0], True
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        help_text = f.metadata.get("help", "")
        if f.name in NAMED_VALUES:
            what, names = NAMED_VALUES[f.name]
            help_text += f"; {what}: {', '.join(names)}"
        help_text = f"{help_text} (default {default!r})".strip()
        choices = tuple(REGISTERED[f.name]) if f.name in REGISTERED else f.metadata.get("choices")
        if kind is bool:
            ap.add_argument(
                option_flag(f.name), action=argparse.BooleanOptionalAction, default=None, help=help_text
            )
        elif typing.get_origin(kind) is list:
            ap.add_argument(
                option_flag(f.name),
                nargs="*",
                type=typing.get_args(kind)[0],
                default=None,
                choices=choices,
                help=help_text,
            )
        elif kind is dict or typing.get_origin(kind) is dict:
            ap.add_argument(option_flag(f.name), type=json_object, default=None, help=help_text)
        else:
            conv = kind if kind in (int, float, str) else str
            if optional:
                ap.add_argument(
                    option_flag(f.name),
                    type=lambda s, conv=conv: None if s.lower() == "none" else conv(s),
                    default=None,
                    help=help_text,
                )
            else:
                ap.add_argument(option_flag(f.name), type=conv, default=None, choices=choices, help=help_text)
    return ap


def build_config(argv: list[str] | None = None) -> TrainConfig:
    """The config `argv` asks for (defaults < the run's config.json with --resume < preset < --config file <
    flags); raises on unknown fields."""
    argv = list(sys.argv[1:] if argv is None else argv)
    pre = ArgumentParser(prog="python -m agents.train", add_help=False)
    pre.add_argument("--algo", default=None)
    pre.add_argument("--preset", default=None)
    pre.add_argument("--config", type=Path, default=None)
    pre.add_argument("--out", default=None)
    pre.add_argument("--resume", action=argparse.BooleanOptionalAction, default=False)
    pre.add_argument("--curriculum", default=None)
    known, _ = pre.parse_known_args(argv)
    values: dict[str, Any] = {}
    if known.resume:  # a run folder is self-describing: continue it with the settings it was started with
        from agents.checkpoint import CONFIG, require_run

        require_run(Path(known.out or TrainConfig.out))
        saved = Path(known.out or TrainConfig.out) / CONFIG
        if saved.exists():
            try:
                values.update(json.loads(saved.read_text()))
            except ValueError as e:
                raise ConfigError(
                    f"--resume: {saved} is not a JSON object of config fields ({e}); pass the "
                    f"run's options on the command line, or --config FILE"
                ) from None
    if known.preset:
        if known.preset not in RUN_PRESETS:
            raise ConfigError(f"unknown preset {known.preset!r}; choose one of {sorted(RUN_PRESETS)}")
        values.update(RUN_PRESETS[known.preset])
    if known.config:
        if not known.config.exists():
            raise ConfigError(f"config file {known.config} not found")
        try:
            values.update(json.loads(known.config.read_text()))
        except ValueError as e:
            raise ConfigError(
                f"config file {known.config} is not a JSON object of config fields: {e}"
            ) from None
    algo = known.algo or values.get("algo") or TrainConfig.algo
    if algo not in ALGORITHMS:
        raise ConfigError(f"--algo must be one of {tuple(ALGORITHMS)}, got {algo!r}")
    config_cls = get_algorithm(algo).config_class
    args = _parser(config_cls, known.curriculum or values.get("curriculum")).parse_args(argv)
    names = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(f"unknown config field(s) {unknown} for --algo {algo}; fields are {sorted(names)}")
    for name in names:
        v = getattr(args, name, None)
        if v is not None:
            values[name] = None if isinstance(v, list) and not v and name == "levels" else v
    values["algo"] = algo
    config = config_cls(**values)
    check_run(config)
    return config


def main(argv: list[str] | None = None) -> int:
    """The command line: train, print the run's summary; a user's mistake is one line on stderr, status 2."""

    def body() -> None:
        config = build_config(argv)  # a mistake stops here, before transformers loads
        from agents.cpu import configure
        from agents.trainer import train

        print(configure(), flush=True)
        train(config)

    return exit_on_user_error(body)


if __name__ == "__main__":
    sys.exit(main())
