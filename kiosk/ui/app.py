"""The kiosk window: live feed with face boxes, access banner, status bar and the staff's list of denials.

Usage:
    python main.py run                      # camera 0 (the demo feed when no camera is found)
    python main.py run --source demo        # the built-in demo feed
    python main.py run --fullscreen         # kiosk mode, or [kiosk] fullscreen = true

Key bindings (main window):
    F11              toggle fullscreen
    Escape           leave fullscreen
    Ctrl+Q           quit (also Ctrl+Shift+Q)
    Ctrl+A           open the admin panel (``[ui] admin_key``)
With ``[ui] admin_pin_hash`` set, the admin panel and quitting (keys or the window's close
button) first ask for the staff PIN (kiosk/ui/pin_dialog.py); SIGTERM and SIGINT never do.
With ``[ui] voice`` on, the visitor also hears the decision (kiosk/ui/voice.py, never blocking).
Staff alerts (``[ui] staff_display``): recent denials, newest first, each with its face, time and
label and a Dismiss button, in a panel at the right of the window or in a window of their own
(kiosk/ui/staff_panel.py). The visitor's area (live view and banner) is never covered.

The Tk main loop never waits on the camera, the model, the disk or the network: the runtime's
threads push ``FrameUpdate``s into a queue that ``after()`` polls every few milliseconds. The
queue is drained each time; only the newest frame is drawn (older ones would only add lag), but
every update's decision is handled, so no denial is ever missed.
"""

from __future__ import annotations

import logging
import queue
import signal
import time
import tkinter as tk
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from kiosk import PRODUCT_NAME
from kiosk.config import Config
from kiosk.errors import KioskError
from kiosk.door.rate_meter import RateMeter
from kiosk.records import DecisionEvent, is_denial
from kiosk.ui.banner import Banner, state_name
from kiosk.ui.pin_dialog import PinGuard
from kiosk.ui.process_stats import process_age_s
from kiosk.ui.staff_panel import StaffPanel, build_staff_alerts
from kiosk.ui.status_bar import StatusBar, StatusInfo
from kiosk.ui.voice import VisitorVoice
from kiosk.ui.video_view import VideoView

if TYPE_CHECKING:  # pragma: no cover
    from kiosk.door.runtime import FrameUpdate, KioskRuntime
    from kiosk.events.services import EventServices
    from kiosk.outputs.door import DoorOutput

log = logging.getLogger(__name__)

POLL_MS = 10  # how often the queue is polled; well under a frame interval at 30 fps
STATUS_REFRESH_S = 0.25  # status bar figures change slowly; 4 refreshes a second are plenty
FPS_WINDOW_S = 2.0  # display fps is measured over the frames shown in this window
SERVICES_STATUS_S = 1.0  # how often counts and the outbox are asked from the event services
INITIAL_SIZE = (1040, 760)  # a 640x480 feed at about 1.1x beside the staff panel, banner and status bar below
FULLSCREEN_CHECK_MS = 300  # time a window manager gets to honour -fullscreen
CLOSE_SIGNALS = (signal.SIGTERM, signal.SIGINT)
ICON_PATH = Path(__file__).resolve().parents[2] / "assets" / "icon.png"
OVERLAY_STATES = ("offline", "ended")  # source states the live view is covered with a message


class KioskWindow:
    """Everything on screen, driven by ``FrameUpdate``s from a ``KioskRuntime``.

    Tests build it on a real Tk root under Xvfb and drive ``root.update()``; ``run_window`` is
    the production entry point around it.
    """

    def __init__(self, root: tk.Tk, cfg: Config, runtime: "KioskRuntime", services: Optional["EventServices"] = None,
                 door: Optional["DoorOutput"] = None) -> None:
        self.root = root
        self.cfg = cfg
        self.runtime = runtime
        self.services = services
        self.door = door  # the admin panel's "Open door" works it
        self.closed = False
        self._close_requested = False
        self.on_frame_shown: Optional[Callable[["FrameUpdate"], None]] = None  # for measurements
        self.decisions_seen = 0
        self.display_errors = 0
        self.local_counts = {"granted": 0, "denied": 0}
        self.display_rate = RateMeter(FPS_WINDOW_S)
        self._latest: Optional["FrameUpdate"] = None
        self._soft_grant = False
        self._poll_job: Optional[str] = None
        self._status_at = self._services_at = float("-inf")  # when the status bar / services were last read
        self._services_status: dict = {}
        self._admin_window: Optional[tk.Misc] = None
        self._fullscreen = False
        self._windowed_geometry = ""

        root.title(f"{PRODUCT_NAME} — {cfg.kiosk.id}")
        self._set_icon()
        root.configure(bg="#101418")
        root.minsize(480, 440)
        root.geometry(self._initial_geometry())
        root.report_callback_exception = self._report_callback_exception  # log, never a stderr wall

        self.status_bar = StatusBar(root, email_enabled=cfg.email.enabled)
        self.status_bar.pack(side="bottom", fill="x")
        # staff alerts are packed before the visitor's area: at the right, and banner and live view take the rest
        self.staff: Optional[StaffPanel] = build_staff_alerts(
            root, cfg.ui.staff_display if cfg.ui.popup else "off", cfg.kiosk.id,
            show_faces=not cfg.storage.privacy, window_geometry=cfg.ui.staff_window_geometry)
        self.banner = Banner(root, cfg.ui.language)
        self.banner.pack(side="bottom", fill="x")
        self.video = VideoView(root)
        self.video.canvas.pack(side="top", fill="both", expand=True)

        self.pin = PinGuard(root, cfg.ui.admin_pin_hash)
        self.voice = VisitorVoice.from_config(cfg)  # spoken prompts ([ui] voice), on their own thread
        self._bind_keys()
        root.protocol("WM_DELETE_WINDOW", self.quit_by_staff)
        if cfg.kiosk.fullscreen:
            self.set_fullscreen(True)

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Start the runtime's threads and the queue polling."""
        self.runtime.start()
        self._poll_job = self.root.after(POLL_MS, self._poll)

    def request_close(self, signum: int = 0, _frame: Any = None) -> None:
        """Close at the next poll; safe from a signal handler (it only sets a flag)."""
        if signum:
            log.info("%s received: closing the kiosk window", signal.Signals(signum).name)
        self._close_requested = True

    def close(self) -> None:
        """Stop polling, the runtime, then the event services (which flush the outbox), then Tk."""
        if self.closed:
            return
        self.closed = True
        if self._poll_job is not None:
            self.root.after_cancel(self._poll_job)
            self._poll_job = None
        if self.staff is not None:
            self.staff.close()
        self._close_admin_panel()
        self.pin.close()
        self.voice.stop()
        try:
            self.root.withdraw()  # the window disappears at once; the threads may take a moment
        except tk.TclError:
            pass
        try:
            self.runtime.stop()
        finally:
            if self.services is not None:
                self.services.stop()
            try:
                self.root.destroy()
            except tk.TclError:
                pass
        log.info("kiosk window closed")

    # --- updates ----------------------------------------------------------------------------

    def _poll(self) -> None:
        if self._close_requested:
            self.close()
            return
        try:
            self.drain()
        except Exception:  # one bad update must not stop the screen; say so without flooding the log
            self.display_errors += 1
            if self.display_errors in (1, 10, 100) or self.display_errors % 1000 == 0:
                log.exception("could not show an update (%d so far)", self.display_errors)
        finally:
            if not self.closed:
                self._poll_job = self.root.after(POLL_MS, self._poll)

    def drain(self) -> int:
        """Handle every queued update: each decision, but only the newest frame. Returns the count."""
        handled = 0
        latest = None
        while True:
            try:
                update = self.runtime.updates.get_nowait()
            except queue.Empty:
                break
            handled += 1
            latest = update
            if update.decision is not None:
                self.handle_decision(update.decision)
        if latest is not None:
            self.show_update(latest)
        self._refresh_status()
        return handled

    def handle_decision(self, event: DecisionEvent) -> None:
        """A new decision episode: count it, mark a soft grant, list a denial for staff."""
        self.decisions_seen += 1
        self.local_counts["denied" if is_denial(event.decision) else "granted"] += 1
        self._soft_grant = event.decision == "granted" and bool(event.policy_note)
        self._services_at = self._status_at = float("-inf")  # today's counts change now: refresh at once
        self.voice.on_decision(event)
        if is_denial(event.decision):
            if self.cfg.ui.sound:
                self.root.bell()
            if self.staff is not None:
                self.staff.add(event)

    def show_update(self, update: "FrameUpdate") -> None:
        previous, self._latest = self._latest, update
        new_frame = previous is None or update.frame is not previous.frame or update.frame_index != previous.frame_index
        if new_frame:  # while offline/ended the runtime repeats the last frame with fresh status only
            self.video.show(update.frame, update.results)
            self.display_rate.tick()
        elif update.captured_at and update.results != self.video.results:
            # the analysis of the picture on screen (shown first as a preview with the previous
            # faces): draw its own boxes, so a decision's frame shows the faces it was made on
            self.video.show(update.frame, update.results)
        covered = update.source_state in OVERLAY_STATES
        state = "out_of_service" if covered else state_name(update.state)  # no picture: no decision, no "step up"
        if state != "granted":
            self._soft_grant = False
        self.banner.show(state, soft_grant=self._soft_grant, hint=update.hint)
        self.voice.on_state(state, update.hint)
        self.video.set_message((update.status_text or update.source_state.upper()) if covered else "")
        if previous is None:
            age = process_age_s()
            log.info("first frame on screen %s(%s, %s)", f"{age:.2f} s after process start " if age else "",
                     update.source_label, update.source_state)
        if self.on_frame_shown is not None:
            self.on_frame_shown(update)

    @property
    def latest_update(self) -> Optional["FrameUpdate"]:
        """The update on screen now (None before the first)."""
        return self._latest

    # --- status bar -------------------------------------------------------------------------

    def _refresh_status(self) -> None:
        now = time.perf_counter()
        if now - self._status_at < STATUS_REFRESH_S:
            return
        self._status_at = now
        self.status_bar.show(self.status_info(now))

    def status_info(self, now: Optional[float] = None) -> StatusInfo:
        now = time.perf_counter() if now is None else now
        latest = self._latest
        counts = self._counts(now)
        status_text = latest.status_text if latest is not None else ""
        if latest is not None and not self.runtime.running and latest.source_state not in OVERLAY_STATES:
            status_text = status_text or "Analysis stopped — restart the kiosk"
        return StatusInfo(
            source_label=latest.source_label if latest is not None else "starting",
            source_state=latest.source_state if latest is not None else "",
            status_text=status_text,
            display_fps=self.display_rate.rate,
            analysis_fps=latest.analysis_fps if latest is not None else 0.0,
            model_name=self.runtime.model_name,
            granted_today=counts["granted"],
            denied_today=counts["denied"],
            outbox_pending=counts.get("outbox_pending"),
            last_email_error=counts.get("last_email_error") or "",
            last_storage_error=counts.get("last_storage_error") or "",
        )

    def _counts(self, now: float) -> dict:
        """Today's counts from the event services (the database's truth), or counted here without them."""
        if self.services is None:
            return dict(self.local_counts)
        if now - self._services_at >= SERVICES_STATUS_S:
            self._services_at = now
            try:
                self._services_status = dict(self.services.status())
            except Exception:  # a status glitch must not freeze the window
                log.warning("event services status unavailable", exc_info=True)
        status = self._services_status
        return {
            "granted": int(status.get("granted_today", 0)),
            "denied": int(status.get("denied_today", 0)),
            "outbox_pending": status.get("outbox_pending"),
            "last_email_error": status.get("last_email_error"),
            "last_storage_error": status.get("last_storage_error"),
        }

    # --- keys, fullscreen, admin panel ------------------------------------------------------

    def _bind_keys(self) -> None:
        root = self.root
        root.bind("<F11>", lambda _e: self.set_fullscreen(not self._fullscreen))
        root.bind("<Escape>", lambda _e: self.set_fullscreen(False))
        for quit_key in ("<Control-q>", "<Control-Q>", "<Control-Shift-q>", "<Control-Shift-Q>"):
            root.bind(quit_key, lambda _e: self.quit_by_staff())
        if self.services is not None:
            try:
                root.bind(self.cfg.ui.admin_key, lambda _e: self.open_admin_panel())
            except tk.TclError as exc:
                raise KioskError(f"[ui] admin_key = \"{self.cfg.ui.admin_key}\": not a Tk key binding ({exc})") from None

    @property
    def fullscreen(self) -> bool:
        return self._fullscreen

    def set_fullscreen(self, on: bool) -> None:
        """Ask the window manager for fullscreen; without one (a bare X kiosk) cover the screen ourselves."""
        on = bool(on)
        if on == self._fullscreen:
            return
        self._fullscreen = on
        if on:
            self._windowed_geometry = self.root.geometry()
            self.root.attributes("-fullscreen", True)
            self.root.after(FULLSCREEN_CHECK_MS, self._cover_screen_if_no_wm)
        else:
            self.root.attributes("-fullscreen", False)
            if self._windowed_geometry:
                self.root.geometry(self._windowed_geometry)

    def _cover_screen_if_no_wm(self) -> None:
        if self._fullscreen and not int(self.root.attributes("-fullscreen")):
            log.info("no window manager honours fullscreen: covering the screen directly")
            self.root.geometry(f"{self.root.winfo_screenwidth()}x{self.root.winfo_screenheight()}+0+0")

    def _close_admin_panel(self) -> None:
        """Its timers would otherwise outlive the window and fire into a destroyed interpreter."""
        panel = getattr(self._admin_window, "panel", None)
        if panel is not None:
            panel.close()
        self._admin_window = None

    def quit_by_staff(self) -> None:
        """Ctrl+Q or the window's close button: close once the staff PIN is given (when one is set)."""
        self.pin.ask("quit the kiosk", self.close)

    def open_admin_panel(self) -> None:
        """Open the admin panel after the staff PIN (when one is set), or raise the one already open."""
        if self._admin_window is not None and self._admin_window.winfo_exists():
            self._admin_window.lift()  # type: ignore[attr-defined]
            return
        self.pin.ask("open the admin panel", self._show_admin_panel)

    def _show_admin_panel(self) -> None:
        if self.closed:
            return
        from kiosk.ui.admin_panel import open_admin_panel

        panel = open_admin_panel(self.root, self.services, self.door)
        self._admin_window = panel if isinstance(panel, tk.Misc) else None

    # --- helpers ----------------------------------------------------------------------------

    def _set_icon(self) -> None:
        """The product icon in the task bar / window manager; a missing file is no reason to stop."""
        try:
            self._icon = tk.PhotoImage(master=self.root, file=str(ICON_PATH))
            self.root.iconphoto(True, self._icon)
        except tk.TclError as exc:
            log.warning("window icon %s not shown: %s", ICON_PATH, exc)

    def _initial_geometry(self) -> str:
        """``INITIAL_SIZE``, never larger than the screen."""
        width = min(INITIAL_SIZE[0], self.root.winfo_screenwidth())
        height = min(INITIAL_SIZE[1], self.root.winfo_screenheight())
        return f"{width}x{height}"

    def _report_callback_exception(self, exc_type, exc, tb) -> None:
        log.error("error in the kiosk window: %s", exc, exc_info=(exc_type, exc, tb))


def open_display() -> tk.Tk:
    """A Tk root, or a one-line ``KioskError`` when there is no display to show it on."""
    try:
        return tk.Tk(className="mask-kiosk")
    except tk.TclError as exc:
        raise KioskError(f"cannot open the kiosk window ({exc}); set DISPLAY or run with --headless") from None


def run_window(cfg: Config, runtime: "KioskRuntime", services: Optional["EventServices"] = None,
               door: Optional["DoorOutput"] = None) -> int:
    """Show the kiosk window until it is closed; returns the process exit code.

    The runtime starts as soon as there is a display, so the camera opens and the first frame
    is analysed while Tk builds the widgets: the first picture is on screen sooner. SIGTERM (a
    service manager stopping the kiosk) and SIGINT close the window like Ctrl+Q does, so the
    runtime stops and the email outbox is flushed.
    """
    root = open_display()
    runtime.start()
    try:
        window = KioskWindow(root, cfg, runtime, services, door)
    except BaseException:
        runtime.stop()
        root.destroy()
        raise
    window.start()
    previous = {sig: signal.signal(sig, window.request_close) for sig in CLOSE_SIGNALS}
    try:
        root.mainloop()
    except KeyboardInterrupt:
        log.info("interrupted")
    finally:
        window.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
