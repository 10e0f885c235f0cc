"""The admin panel: today's events with face thumbnails, and the email outbox (what waits, why).

SQLite reads and image decoding happen on a worker thread; the Tk thread only polls a queue
with ``after()`` and turns the finished PNG thumbnails into PhotoImages, so a slow disk never
freezes the kiosk window. The panel refreshes itself every few seconds while it is open.

It opens over the kiosk window and never larger than it (an 800x480 kiosk screen shows all of
it): the buttons are laid out first, so they keep their room, and the two lists share what is
left, scrolling.
"""

from __future__ import annotations

import base64
import logging
import queue
import threading
import tkinter as tk
from datetime import datetime
from tkinter import ttk
from typing import TYPE_CHECKING, Any, Optional

from kiosk.events.snapshots import thumbnail_png
from kiosk.records import DEMO_SOURCE, is_denial
from kiosk.ui.placement import geometry_over

if TYPE_CHECKING:  # pragma: no cover
    from kiosk.events.services import EventServices
    from kiosk.outputs.door import DoorOutput

log = logging.getLogger(__name__)

THUMBNAIL_PX = 48
POLL_MS = 50
REFRESH_MS = 5000
PANEL_SIZE = (760, 560)  # at most; never larger than the kiosk window
EVENT_COLUMNS = (("time", 80), ("decision", 80), ("label", 140), ("score", 55), ("faces", 50), ("source", 70),
                 ("alert", 110))
QUEUE_COLUMNS = (("id", 50), ("kind", 60), ("event time", 90), ("attempts", 80), ("last error", 400))


def _clock(iso: Optional[str]) -> str:
    return datetime.fromisoformat(iso).strftime("%H:%M:%S") if iso else ""


def load_overview(services: "EventServices") -> dict[str, Any]:
    """Everything the panel shows (runs on the worker thread: SQLite and image files)."""
    data = services.overview()
    data["thumbnails"] = {e.id: thumbnail_png(e.thumbnail_path, THUMBNAIL_PX) for e in data["events"]}
    return data


class AdminPanel:
    """The panel's widgets and its load/poll cycle."""

    def __init__(self, root: tk.Misc, services: "EventServices", door: Optional["DoorOutput"] = None) -> None:
        self.services = services
        self.door = door  # the relay staff may open by hand ([door] output); the PIN guards the panel
        self.top = tk.Toplevel(root)
        self.top.title(f"Admin: kiosk {services.cfg.kiosk.id}")
        self.top.geometry(geometry_over(root, *PANEL_SIZE))
        try:
            self.top.transient(root.winfo_toplevel())  # above the kiosk window, fullscreen too
        except tk.TclError:
            pass
        self._results: queue.Queue = queue.Queue()
        self._loading = False
        self._closed = False
        self._photos: list[tk.PhotoImage] = []  # referenced, or Tk shows blank thumbnails
        self.loads = 0  # completed refreshes (the test and the status line use it)

        buttons = ttk.Frame(self.top)  # first: at the bottom whatever the lists ask for
        buttons.pack(side="bottom", fill="x", padx=8, pady=8)
        ttk.Button(buttons, text="Refresh", command=self.refresh).pack(side="left")
        if door is not None:
            self.open_door_button = ttk.Button(buttons, text="Open door", command=self.open_door)
            self.open_door_button.pack(side="left", padx=(8, 0))
        ttk.Button(buttons, text="Close", command=self.close).pack(side="right")

        self.summary = tk.StringVar(value="loading ...")
        self.summary_label = ttk.Label(self.top, textvariable=self.summary, anchor="w", justify="left")
        self.summary_label.pack(fill="x", padx=8, pady=(8, 4))
        self.summary_label.bind("<Configure>", lambda e: self.summary_label.configure(wraplength=max(100, e.width)))

        style = ttk.Style(self.top)
        style.configure("Admin.Treeview", rowheight=THUMBNAIL_PX + 4)
        ttk.Label(self.top, text="Today's events").pack(anchor="w", padx=8)
        self.events = self._tree(EVENT_COLUMNS, show="tree headings", style="Admin.Treeview", height=3)
        self.events.column("#0", width=THUMBNAIL_PX + 24, stretch=False)
        ttk.Label(self.top, text="Email outbox (waiting)").pack(anchor="w", padx=8, pady=(6, 0))
        self.outbox = self._tree(QUEUE_COLUMNS, show="headings", height=3)
        self.top.bind("<Escape>", lambda _e: self.close())
        self.top.protocol("WM_DELETE_WINDOW", self.close)
        self.refresh()
        self._poll_job = self.top.after(POLL_MS, self._poll)
        self._refresh_job: Optional[str] = None

    def _tree(self, columns, **options) -> ttk.Treeview:
        frame = ttk.Frame(self.top)
        frame.pack(fill="both", expand=True, padx=8)
        tree = ttk.Treeview(frame, columns=[name for name, _ in columns], **options)
        for name, width in columns:
            tree.heading(name, text=name)
            tree.column(name, width=width, stretch=name in ("label", "last error"))
        scroll = ttk.Scrollbar(frame, orient="vertical", command=tree.yview)
        tree.configure(yscrollcommand=scroll.set)
        tree.pack(side="left", fill="both", expand=True)
        scroll.pack(side="right", fill="y")
        return tree

    def open_door(self) -> None:
        """Staff open the door by hand: the relay pulses for [door] open_s on its own thread (never
        here, in Tk's) and the door output records the opening as a manual_open event."""
        if self.door is not None and self.door.open_manually("admin panel"):
            self.summary.set("Door opening (recorded as a manual opening) ...")
        else:
            self.summary.set("The door output is not running: the door stays closed")

    def refresh(self) -> None:
        """Start a background load unless one is running."""
        if self._loading or self._closed:
            return
        self._loading = True
        threading.Thread(target=self._load, name="admin-panel-load", daemon=True).start()

    def _load(self) -> None:
        try:
            self._results.put(("ok", load_overview(self.services)))
        except Exception as exc:  # shown in the panel, the kiosk goes on
            self._results.put(("error", f"{type(exc).__name__}: {exc}"))

    def _poll(self) -> None:
        if self._closed:
            return
        try:
            status, payload = self._results.get_nowait()
        except queue.Empty:
            pass
        else:
            self._loading = False
            if status == "ok":
                self._show(payload)
            else:
                self.summary.set(f"cannot load events: {payload}")
            self.loads += 1
            self._refresh_job = self.top.after(REFRESH_MS, self.refresh)
        self._poll_job = self.top.after(POLL_MS, self._poll)

    def _show(self, data: dict[str, Any]) -> None:
        events, outbox, state = data["events"], data["outbox"], data["status"]
        counted = [e for e in events if e.source != DEMO_SOURCE]  # a demo is never a real event
        granted = sum(1 for e in counted if e.decision == "granted")
        denied = sum(1 for e in counted if is_denial(e.decision))
        demo = len(events) - len(counted)
        email = "email off" if not state["email_enabled"] else (
            f"outbox: {outbox['pending']} pending, {outbox['sending']} sending, {outbox['sent']} sent, "
            f"{outbox['repeats']} cooldown repeats (go with the next alert)")
        error = f"  |  last email error: {state['last_email_error']}" if state.get("last_email_error") else ""
        demo_text = f" ({demo} demo {'event' if demo == 1 else 'events'}, not counted)" if demo else ""
        self.summary.set(f"{data['day']}: {granted} granted, {denied} denied{demo_text}  |  {email}{error}")

        self.events.delete(*self.events.get_children())
        self._photos = []
        for event in reversed(events):  # newest on top
            png = data["thumbnails"].get(event.id)
            options: dict[str, Any] = {}
            if png:
                photo = tk.PhotoImage(master=self.top, data=base64.b64encode(png).decode("ascii"))
                self._photos.append(photo)
                options["image"] = photo
            self.events.insert("", "end", iid=str(event.id), text="", values=(
                _clock(event.time), event.decision, event.label, f"{event.score:.2f}",
                event.faces, event.source, event.alert_state), **options)

        self.outbox.delete(*self.outbox.get_children())
        for row in data["queued"]:
            self.outbox.insert("", "end", iid=str(row.id), values=(
                row.id, row.kind, _clock(row.event_time) or row.report_day or "", row.attempts, row.last_error or ""))

    def close(self) -> None:
        self._closed = True
        # pending callbacks would otherwise fire into the destroyed window ("invalid command name")
        for job in (self._poll_job, self._refresh_job):
            if job is not None:
                self.top.after_cancel(job)
        self.top.destroy()
        # free Tk images and variables now, on the Tk thread, not later from a GC run on another thread
        self._photos.clear()
        self.summary = None  # type: ignore[assignment]
        if getattr(self.top, "panel", None) is self:
            del self.top.panel  # type: ignore[attr-defined]  # break the cycle so nothing waits for the GC


def open_admin_panel(root: tk.Misc, services: "EventServices", door: Optional["DoorOutput"] = None) -> tk.Toplevel:
    """Open the panel as a Toplevel of ``root``; the AdminPanel is kept as ``toplevel.panel``."""
    panel = AdminPanel(root, services, door)
    panel.top.panel = panel  # type: ignore[attr-defined]
    return panel.top
