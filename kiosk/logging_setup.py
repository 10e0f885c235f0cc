"""Logging for every entry point: one format, stderr, optional file; never print()."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def setup_logging(level: str = "INFO", log_file: Optional[Path] = None) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if log_file is not None:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), format=LOG_FORMAT, handlers=handlers, force=True)
    # third-party chatter that says nothing to an operator
    for noisy in ("PIL", "matplotlib", "mail.log", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
