"""Drive a real ``EventServices`` from the command line, for crash drills and benchmarks.

  python -m tools.alert_drill --config K.toml produce N   # N denials, print "queued", then hang
  python -m tools.alert_drill --config K.toml deliver T   # start, wait up to T s for an empty outbox

``produce`` is meant to be killed with SIGKILL while its alerts are pending; ``deliver`` is the
restarted kiosk that must send them. Both use the real services, database and SMTP settings.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Optional

import numpy as np

from kiosk.config import Config, load_config
from kiosk.example_config import toml_value
from kiosk.events.services import EventServices
from kiosk.logging_setup import setup_logging
from kiosk.records import DecisionEvent
from kiosk.camera.synthetic import PORTRAIT_FACE_BOX, load_portrait


def denial(cfg: Config, frame: Optional[np.ndarray] = None, when: Optional[datetime] = None,
           with_frame: bool = True) -> DecisionEvent:
    """A denial of the synthetic portrait (or ``frame``), as the decision engine would hand it over."""
    if with_frame and frame is None:
        frame = load_portrait()
    return DecisionEvent(time=when or datetime.now().astimezone(), kiosk_id=cfg.kiosk.id, decision="denied",
                         label="without_mask", score=0.93, faces=1, box=PORTRAIT_FACE_BOX,
                         frame=frame if with_frame else None)


def write_toml(path: Path, sections: dict[str, dict[str, Any]]) -> Path:
    """Write config sections as a TOML file, for drills that run the kiosk in a subprocess."""
    lines = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {toml_value(value)}" for key, value in values.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def produce(cfg: Config, count: int) -> None:
    services = EventServices(cfg)
    services.start()
    frame = load_portrait()
    for _ in range(count):
        services.on_decision(denial(cfg, frame))
    print("queued", flush=True)
    while True:  # wait to be killed
        time.sleep(1)


def deliver(cfg: Config, timeout_s: float) -> int:
    services = EventServices(cfg)
    services.start()
    deadline = time.monotonic() + timeout_s
    left = services.store.outbox_counts
    while time.monotonic() < deadline and left()["pending"] + left()["sending"]:
        time.sleep(0.1)
    waiting = left()["pending"] + left()["sending"]
    services.stop(2.0)
    print(f"pending {waiting}", flush=True)
    return 0 if waiting == 0 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.alert_drill", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("action", choices=["produce", "deliver"])
    parser.add_argument("amount", type=float)
    args = parser.parse_args(argv)
    setup_logging("WARNING")
    cfg = load_config(Path(args.config))
    if args.action == "produce":
        produce(cfg, int(args.amount))
        return 0
    return deliver(cfg, args.amount)


if __name__ == "__main__":
    sys.exit(main())
