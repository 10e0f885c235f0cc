"""Writes ``kiosk.example.toml`` from the config schema, so the documented example can never
miss a key or show a stale default: ``python -m kiosk.example_config > kiosk.example.toml``."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from kiosk.config import SECTIONS

HEADER = """\
# Mask kiosk configuration: copy this file to kiosk.toml and change what you need.
# Every key is optional; the values below are the defaults. Command-line options
# (python main.py run --help) override the file. Check a file with:
#     python main.py run --config kiosk.toml --validate-config
# Relative paths are relative to the project folder. The SMTP password is never stored
# here: set KIOSK_SMTP_PASSWORD or put it in the system keyring.
"""

NOTES = {
    "camera": "# source: 0, 1, ... (camera index), \"entrance.mp4\", \"rtsp://user:pass@10.0.0.5/stream\",\n"
              "#         \"/srv/pictures\" (a slideshow: 4 s per picture, then 1.5 s empty) or \"demo\" (built-in demo feed).",
    "decision": "# A decision is the majority of the last window_frames confident frames; one event per person.",
}


def toml_value(value: Any) -> str:
    """TOML text for a default value (strings and lists of strings in JSON syntax are valid TOML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def render_example() -> str:
    lines = [HEADER]
    for name, cls in SECTIONS.items():
        lines.append(f"[{name}]")
        if name in NOTES:
            lines.append(NOTES[name])
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
            lines.append(f"# {f.metadata['doc']}")
            lines.append(f"{f.name} = {toml_value(default)}")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_example(), end="")
