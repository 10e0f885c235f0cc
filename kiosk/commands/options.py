"""Options shared by the commands that run the pipeline (analyze, bench, ...) or only the
classifier (classify): which config, model and detector, with command-line paths taken
relative to the working directory."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable

from kiosk.config import Config, load_config, with_overrides


def int_at_least(minimum: int, meaning: str) -> Callable[[str], int]:
    """An argparse ``type`` for a whole number of ``minimum`` or more; anything else is a one-line
    usage error saying what it must be, e.g. ``must be 0 or more, got '-1'``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"must be {meaning}, got {text!r}")
        return value
    return parse


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """--config and --model, for commands that classify without detecting faces."""
    parser.add_argument("--config", metavar="FILE", help="config file (default: kiosk.toml when present)")
    parser.add_argument("--model", metavar="DIR", help="model folder (overrides [model] dir)")


def add_pipeline_options(parser: argparse.ArgumentParser) -> None:
    """--config, --model and --detector, for commands that find faces and classify them."""
    add_model_options(parser)
    parser.add_argument("--detector", metavar="NAME", help="face detector (overrides [detection] detector)")


def load_command_config(args: argparse.Namespace) -> Config:
    """The config file plus the command-line overrides. Paths given on the command line are
    relative to the working directory, not to the project folder like those in the file.
    A command may offer only some of the three options; the others are left as configured."""
    config, model, detector = (getattr(args, name, None) for name in ("config", "model", "detector"))
    cfg = load_config(Path(config) if config else None)
    model_dir = str(Path(model).resolve()) if model else None
    return with_overrides(cfg, {"model.dir": model_dir, "detection.detector": detector})


def model_dir_of(cfg: Config) -> Path:
    """The model folder the config names, as an absolute path."""
    return cfg.resolve_path(cfg.model.dir)
