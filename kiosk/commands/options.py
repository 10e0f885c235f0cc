"""Options shared by the commands that run the pipeline (analyze, bench, ...): which config,
model and detector, with command-line paths taken relative to the working directory."""

from __future__ import annotations

import argparse
from pathlib import Path

from kiosk.config import Config, load_config, with_overrides


def add_pipeline_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="config file (default: kiosk.toml when present)")
    parser.add_argument("--model", metavar="DIR", help="model folder (overrides [model] dir)")
    parser.add_argument("--detector", metavar="NAME", help="face detector (overrides [detection] detector)")


def load_command_config(args: argparse.Namespace) -> Config:
    """The config file plus the command-line overrides. Paths given on the command line are
    relative to the working directory, not to the project folder like those in the file."""
    cfg = load_config(Path(args.config) if args.config else None)
    model_dir = str(Path(args.model).resolve()) if args.model else None
    return with_overrides(cfg, {"model.dir": model_dir, "detection.detector": args.detector})
