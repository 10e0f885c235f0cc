"""Events as a table: the CSV that ``main.py events --csv`` and the daily report write, the JSON
lines of ``events --json``, and a plain-text listing for the terminal. One column list, so the
outputs always agree."""

from __future__ import annotations

import csv
import json
from typing import Iterable, TextIO

from kiosk.records import StoredEvent

COLUMNS = ("id", "time", "kiosk_id", "kind", "decision", "label", "score", "source", "faces", "policy_note",
           "alert_state", "snapshot_path", "crop_path")


def write_csv(rows: Iterable[StoredEvent], out: TextIO) -> int:
    """Write events as CSV with a header row; returns the number of events written."""
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow({key: "" if value is None else value for key, value in row.as_dict().items()})
        count += 1
    return count


def write_json_lines(rows: Iterable[StoredEvent], out: TextIO) -> int:
    """Write one JSON object per event and line, with the CSV's columns (null for no value)."""
    count = 0
    for row in rows:
        values = row.as_dict()
        out.write(json.dumps({key: values[key] for key in COLUMNS}, ensure_ascii=False) + "\n")
        count += 1
    return count


def format_lines(rows: Iterable[StoredEvent]) -> list[str]:
    """One aligned line per event for a terminal."""
    lines = [f"{'id':>6}  {'time':<29}  {'decision':<9}  {'label':<20}  {'score':>5}  {'faces':>5}  "
             f"{'source':<6}  alert"]
    for r in rows:
        lines.append(f"{r.id:>6}  {r.time:<29}  {r.decision:<9}  {r.label:<20}  "
                     f"{r.score:>5.2f}  {r.faces:>5}  {r.source:<6}  {r.alert_state}")
    return lines
