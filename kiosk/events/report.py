"""The daily report: decisions per hour (PNG chart), totals, the denials with thumbnails, as a
self-contained HTML page plus a CSV of every event, and the email that carries it.

Demo events are never in a report (a demo is never a real event); file and folder replays are,
marked as such, unless the report is asked to leave them out (``exclude_replays``). Faces appear
only as small thumbnails of their crops, in the page and in the email alike.

The chart uses matplotlib's object API with the Agg canvas (no pyplot, no GUI backend), so the
running kiosk can build a report on a background thread next to Tk.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from kiosk.events.store import EventStore
from kiosk.events.table import write_csv
from kiosk.events.mailer import MAX_INLINE_THUMBNAILS, THUMBNAIL_PX, Email, events_table, face_thumbnail, message_id
from kiosk.events.snapshots import thumbnail_png
from kiosk.records import DEMO_SOURCE, REPLAY_SOURCES, StoredEvent, is_denial


@dataclass(frozen=True)
class ReportFiles:
    day: date
    html: Path
    csv: Path
    chart: Path
    granted: int
    denied: int
    denials: list[StoredEvent]
    replays: int = 0  # decisions among those counted that came from a file or folder replay
    exclude_replays: bool = False


def hourly_counts(events: list[StoredEvent]) -> dict[str, list[int]]:
    """Decisions per hour of the (local) day: {"granted": [24 ints], "denied": [...], "uncertain": [...]}."""
    counts = {"granted": [0] * 24, "denied": [0] * 24, "uncertain": [0] * 24}
    for event in events:
        hour = datetime.fromisoformat(event.time).hour
        counts.setdefault(event.decision, [0] * 24)[hour] += 1
    return counts


def draw_chart(counts: dict[str, list[int]], day: date, path: Path) -> None:
    figure = Figure(figsize=(8, 3), dpi=100)
    axes = figure.add_subplot()
    hours = list(range(24))
    axes.bar(hours, counts["granted"], color="#2e9e44", label="granted")
    axes.bar(hours, counts["denied"], bottom=counts["granted"], color="#d62728", label="denied")
    below = [g + d for g, d in zip(counts["granted"], counts["denied"])]
    axes.bar(hours, counts["uncertain"], bottom=below, color="#ff9f1c", label="uncertain (denied)")
    axes.set_xticks(hours)
    axes.set_xlim(-0.6, 23.6)
    axes.set_xlabel("hour")
    axes.set_ylabel("decisions")
    axes.set_title(f"Decisions per hour, {day.isoformat()}")
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.legend(loc="best")  # where it hides the fewest bars (upper left covered the early hours)
    figure.tight_layout()
    FigureCanvasAgg(figure).print_png(str(path))


def _thumbnail_img(event: StoredEvent) -> str:
    data = thumbnail_png(event.thumbnail_path, THUMBNAIL_PX)
    if data is None:
        return "<i>no image</i>"
    return f"<img alt='event {event.id}' src='data:image/png;base64,{base64.b64encode(data).decode()}'/>"


def _denials_html(denials: list[StoredEvent], privacy: bool) -> str:
    if not denials:
        return "<p>No denials.</p>"
    rows = []
    for event in denials:
        when = datetime.fromisoformat(event.time).strftime("%H:%M:%S")
        image = "" if privacy else _thumbnail_img(event)
        rows.append(f"<tr><td>{image}</td><td>#{event.id}</td><td>{when}</td>"
                    f"<td>{html.escape(event.label)}</td><td>{event.score * 100:.0f}%</td>"
                    f"<td>{html.escape(event.source)}</td><td>{html.escape(event.alert_state)}</td></tr>")
    head = ("<tr><th>face</th><th>event</th><th>time</th><th>label</th><th>score</th><th>source</th>"
            "<th>alert</th></tr>")
    return f"<table border='1' cellpadding='4' cellspacing='0'>{head}{''.join(rows)}</table>"


def _health_html(health: list[StoredEvent]) -> str:
    """The kiosk's own troubles that day (e.g. a damaged database replaced); nothing when there were none."""
    if not health:
        return ""
    items = "".join(f"<li>{datetime.fromisoformat(e.time):%H:%M:%S} {html.escape(e.policy_note or e.label)}</li>"
                    for e in health)
    return f"<h2>Kiosk health</h2><ul>{items}</ul>"


def _sources_note(replays: int, exclude_replays: bool) -> str:
    """What the figures are made of, in one sentence."""
    if exclude_replays:
        return "<p>Demo events and file or folder replays are not included.</p>"
    if replays:
        return (f"<p>{replays} of these decisions came from file or folder replays, not the camera;"
                " demo events are not included.</p>")
    return "<p>Demo events are not included.</p>"


def build_report(store: EventStore, day: date, out_dir: Path, kiosk_id: str, privacy: bool,
                 exclude_replays: bool = False) -> ReportFiles:
    """Write ``report-DAY.html``, ``report-DAY.csv`` and ``report-DAY-hours.png`` into ``out_dir``:
    every event of ``day`` but the demo's (and, with ``exclude_replays``, file and folder replays')."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    left_out = (DEMO_SOURCE, *(REPLAY_SOURCES if exclude_replays else ()))
    events = store.events(day=day, exclude_sources=left_out)  # the CSV lists them all; the figures count decisions
    decisions = [e for e in events if e.kind == "decision"]
    replays = sum(e.source in REPLAY_SOURCES for e in decisions)
    counts = hourly_counts(decisions)
    stem = f"report-{day.isoformat()}"
    chart, csv_path, html_path = out_dir / f"{stem}-hours.png", out_dir / f"{stem}.csv", out_dir / f"{stem}.html"
    draw_chart(counts, day, chart)
    with open(csv_path, "w", encoding="utf-8", newline="") as out:
        write_csv(events, out)
    denials = [e for e in decisions if is_denial(e.decision)]
    granted, denied, uncertain = sum(counts["granted"]), len(denials), sum(counts["uncertain"])
    page = (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Kiosk {html.escape(kiosk_id)} {day}</title></head><body>"
        f"<h1>Daily report: kiosk {html.escape(kiosk_id)}, {day.isoformat()}</h1>"
        f"<p><b>{granted}</b> granted, <b>{denied}</b> denied ({uncertain} of them uncertain: no confident"
        f" decision in time), {len(decisions)} decisions in total.</p>"
        f"{_sources_note(replays, exclude_replays)}"
        f"{_health_html([e for e in events if e.kind == 'health'])}"
        f"<img alt='decisions per hour' src='{chart.name}'/>"
        f"<h2>Denials</h2>{_denials_html(denials, privacy)}"
        f"<p>Every event in this report: <a href='{csv_path.name}'>{csv_path.name}</a></p></body></html>"
    )
    html_path.write_text(page, encoding="utf-8")
    return ReportFiles(day, html_path, csv_path, chart, granted, denied, denials, replays, exclude_replays)


def compose_report_email(files: ReportFiles, kiosk_id: str, privacy: bool) -> Email:
    """The report as an email: totals, the chart inline, the denials table, HTML + CSV attached."""
    import yagmail

    contents = [
        f"<h2>Daily report: kiosk {html.escape(kiosk_id)}, {files.day.isoformat()}</h2>"
        f"<p><b>{files.granted}</b> granted, <b>{files.denied}</b> denied.</p>",
        yagmail.inline(str(files.chart)),
        f"<h3>Denials</h3>{events_table(files.denials) if files.denials else '<p>No denials.</p>'}",
    ]
    thumbnails = (face_thumbnail(event, privacy) for event in files.denials[:MAX_INLINE_THUMBNAILS])
    contents += [image for image in thumbnails if image is not None]
    contents.append(_sources_note(files.replays, files.exclude_replays))
    return Email(
        subject=f"[{kiosk_id}] Daily report {files.day.isoformat()}: {files.granted} granted, {files.denied} denied",
        contents=contents, kind="report", attachments=[str(files.csv), str(files.html)],
        message_id=message_id("report", kiosk_id, [files.day.toordinal()]),
        headers={"X-Kiosk-Id": kiosk_id, "X-Kiosk-Report-Day": files.day.isoformat()},
    )
