"""The kiosk's one configuration: a TOML file validated at start, then passed down read-only.

Every key has a type, a default, a check and a description (``describe()`` prints them). An
unknown section or key, or a bad value, is a ``ConfigError`` with a one-line message naming the
key and the value, e.g. ``[email] port = 99999: must be an integer from 1 to 65535``.
Secrets are never here: passwords and the webhook secret come from environment variables or the
keyring (``kiosk.credentials``); a key like ``[mqtt] password`` is refused saying so (``SECRET_KEYS``).
"""

from __future__ import annotations

import dataclasses
import os
import re
import stat
import tomllib
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from kiosk.admin_pin import is_pin_hash
from kiosk.errors import KioskError

DEFAULT_CONFIG_PATH = Path("kiosk.toml")
PROJECT_ROOT = Path(__file__).resolve().parent.parent

Check = Callable[[Any], Optional[str]]  # returns an error text, or None when the value is fine

# The face detectors ``[detection] detector`` may name; built by kiosk.vision.detection.build_detector.
# Defined here, not there, so that reading a config does not import OpenCV.
DETECTOR_NAMES = ("haar", "haar-stock", "blazeface", "blazeface-full")


class ConfigError(KioskError, ValueError):
    """A config file or value that the kiosk cannot run with; the message is one line."""


# --- checks -------------------------------------------------------------------------------

def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def int_range(lo: int, hi: int) -> Check:
    return lambda v: None if _is_int(v) and lo <= v <= hi else f"must be an integer from {lo} to {hi}"


def number_range(lo: float, hi: float) -> Check:
    return lambda v: None if _is_number(v) and lo <= v <= hi else f"must be a number from {lo:g} to {hi:g}"


def boolean(v: Any) -> Optional[str]:
    return None if isinstance(v, bool) else "must be true or false"


def one_of(*choices: str) -> Check:
    listed = ", ".join(f'"{c}"' for c in choices)
    return lambda v: None if v in choices else f"must be one of {listed}"


def text(allow_empty: bool = True) -> Check:
    def check(v: Any) -> Optional[str]:
        if not isinstance(v, str):
            return "must be a string"
        if not allow_empty and not v.strip():
            return "must not be empty"
        return None

    return check


_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")
_TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def kiosk_id(v: Any) -> Optional[str]:
    return None if isinstance(v, str) and _ID_RE.match(v) else "must be 1-64 letters, digits, '.', '_' or '-'"


def email_address(allow_empty: bool) -> Check:
    def check(v: Any) -> Optional[str]:
        if allow_empty and v == "":
            return None
        return None if isinstance(v, str) and _EMAIL_RE.match(v) else "must be an email address like name@example.org"

    return check


def email_list(v: Any) -> Optional[str]:
    if not isinstance(v, list) or not all(isinstance(a, str) and _EMAIL_RE.match(a) for a in v):
        return "must be a list of email addresses"
    return None


NAME_MAX, PATH_MAX = 255, 4096  # bytes in one name of a path, and in a whole path (Linux)


def path_problem(v: str) -> Optional[str]:
    """Why ``v`` cannot name a file here at all, whatever is on disk; None when it can. Checked
    with the config, so that no later ``stat`` or ``expanduser`` fails with a traceback."""
    if "\0" in v:
        return "must not contain a NUL character"
    try:
        path = Path(v).expanduser()
    except RuntimeError:  # "~name/..." of a user this system does not have
        return f"names the home folder of {one_line(v.split('/')[0], MAX_SHOWN_CHARS)}, a user unknown here"
    longest = max((len(os.fsencode(part)) for part in path.parts), default=0)
    if longest > NAME_MAX:
        return f"has a name of {longest} bytes, longer than the {NAME_MAX} a file system allows"
    if len(os.fsencode(str(path))) >= PATH_MAX:
        return f"is longer than the {PATH_MAX - 1} bytes a path may have"
    return None


def path_text(v: Any) -> Optional[str]:
    """A non-empty string that can name a file or folder."""
    return text(False)(v) or path_problem(v)


def camera_source(v: Any) -> Optional[str]:
    if _is_int(v) and v >= 0:
        return None
    if isinstance(v, str) and v.strip():
        return None if "://" in v else path_problem(v)
    return 'must be a camera index (0, 1, ...), a video file, a URL, a folder of images, or "demo"'


def clock_time(v: Any) -> Optional[str]:
    return None if isinstance(v, str) and (v == "" or _TIME_RE.match(v)) else 'must be "HH:MM" (24 h) or "" for never'


UI_LANGUAGES = ("en", "fr")  # the tables of kiosk/ui/messages.py
DECISION_KINDS = ("granted", "denied", "uncertain")  # what a decision episode can end in, in display order


def event_kinds(v: Any) -> Optional[str]:
    if isinstance(v, list) and v and all(k in DECISION_KINDS for k in v):
        return None
    return 'must be a non-empty list of "denied", "uncertain" and/or "granted"'


MAX_FRAME_BYTES = 64  # a relay command frame is a few bytes; more is a typo


def hex_frame(v: Any) -> Optional[str]:
    """Bytes written to a serial relay, as hex pairs: "A0 01 01 A2"."""
    try:
        frame = bytes.fromhex(v) if isinstance(v, str) else b""
    except ValueError:
        frame = b""
    if not 0 < len(frame) <= MAX_FRAME_BYTES:
        return f'must be 1 to {MAX_FRAME_BYTES} bytes in hex, like "A0 01 01 A2"'
    return None


def http_url(v: Any) -> Optional[str]:
    if isinstance(v, str) and (v == "" or re.match(r"^https?://[^\s/]+\S*$", v)):
        return None
    return 'must be an http:// or https:// URL, or "" for none'


def setting(default: Any, check: Check, doc: str) -> Any:
    """A config key: its default, how it is checked and what it means."""
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"check": check, "doc": doc})
    return field(default=default, metadata={"check": check, "doc": doc})


# --- sections -----------------------------------------------------------------------------

@dataclass(frozen=True)
class KioskSection:
    id: str = setting("front-door", kiosk_id, "Name of this terminal, shown in the title, events and emails")
    fullscreen: bool = setting(False, boolean, "Start in fullscreen kiosk mode (leave with Ctrl+Shift+Q)")
    log_level: str = setting("INFO", one_of("DEBUG", "INFO", "WARNING", "ERROR"), "Logging verbosity")


@dataclass(frozen=True)
class CameraSection:
    source: Any = setting(0, camera_source, 'Camera index, video file, RTSP/HTTP URL, image folder, or "demo"')
    loop: bool = setting(False, boolean, "Restart a video file or image folder when it ends (off: it ends)")
    width: int = setting(640, int_range(160, 3840), "Capture width asked of a camera; also the demo feed's frame width")
    height: int = setting(480, int_range(120, 2160), "Capture height asked of a camera; also the demo feed's frame height")
    fallback_to_demo: bool = setting(True, boolean, "Use the demo feed when the default camera cannot be opened")
    offline_after_s: float = setting(3.0, number_range(0.5, 60), "No frame for this long means the camera is offline")
    reconnect_max_s: float = setting(30.0, number_range(1, 600), "Longest wait between reconnection attempts")
    alert_offline_after_s: float = setting(60.0, number_range(1, 86400),
                                           "Offline this long (or the analysis failing): a health event, emailed; another when it works again")
    max_image_pixels: int = setting(40_000_000, int_range(10_000, 1_000_000_000),
                                    "Largest picture read from a file (width x height, read from its header before decoding)")


@dataclass(frozen=True)
class ModelSection:
    dir: str = setting("models", path_text, "Folder with mask_classifier.tflite and model_card.json")


@dataclass(frozen=True)
class DetectionSection:
    detector: str = setting("blazeface", one_of(*DETECTOR_NAMES),
                            "Face detector: blazeface (neural, finds masked faces), blazeface-full, haar (the design card's tuned cascades), haar-stock (baseline)")
    min_face_px: int = setting(40, int_range(16, 1000), "Smallest face width to look for, in pixels")
    max_width: int = setting(320, int_range(160, 3840),
                             "haar: frames wider than this are scaled down first (320 = as fast as the stock cascade)")
    min_score: float = setting(0.5, number_range(0.05, 0.99), "blazeface: lowest confidence that counts as a face")
    tiles: bool = setting(True, boolean, "blazeface: also search square tiles of wide frames (smaller faces; 3x the time)")
    zoom_tiles: bool = setting(False, boolean,
                               "blazeface: also search overlapping zoomed tiles (faces of 50-90 px at 640x480; 3x the time, more false detections)")
    tracking: bool = setting(True, boolean,
                             "video: look for known faces around where they were; scan whole frames only now and then")
    full_scan_every: int = setting(20, int_range(1, 300),
                                  "video with tracking: scan the whole frame every N frames (newcomers are seen within N frames)")
    idle_rescan_every: int = setting(10, int_range(1, 300),
                                    "live video with nobody in view: scan only when the picture changes, and every N frames anyway (1 = every frame)")


@dataclass(frozen=True)
class DecisionSection:
    window_frames: int = setting(5, int_range(1, 60), "Frames a decision is built from")
    min_votes: int = setting(3, int_range(1, 60), "Agreeing frames needed within the window")
    min_score: float = setting(0.6, number_range(0.0, 1.0),
                               "Frames whose no-mask label is below this confidence do not vote (a mask vote needs mask_threshold)")
    mask_threshold: float = setting(0.0, number_range(0.0, 0.999),
                                    "P(with_mask) needed for a mask vote; 0 = the model card's (main.py calibrate sets a site's own)")
    decide_within_s: float = setting(2.0, number_range(0.3, 60),
                                     "A visitor without a confident majority by then is denied as uncertain (fail safe)")
    hold_s: float = setting(3.0, number_range(0.0, 600), "How long a decision stays on screen at least")
    leave_after_s: float = setting(1.0, number_range(0.1, 60), "No face for this long means the person left")
    presence_share: float = setting(0.15, number_range(0.0, 1.0),
                                    "Share of the picture that must differ from the empty doorway for someone whose face is not found to count as a visitor (denied as uncertain, label no_face); 0 = only faces count")
    no_mask_policy: str = setting("hard", one_of("hard", "soft"), "hard: deny without mask; soft: allow and log")
    incorrect_mask_is: str = setting("no_mask", one_of("no_mask", "mask"), "How a badly worn mask counts")


@dataclass(frozen=True)
class UiSection:
    sound: bool = setting(True, boolean, "Ring the bell when access is denied")
    popup: bool = setting(True, boolean, "Staff alerts on a denial: recent denials with their faces (where: staff_display)")
    staff_display: str = setting("panel", one_of("panel", "window", "off"),
                                 "Where staff alerts go: panel (beside the live view, never over it), window (its own, e.g. on a second monitor) or off")
    staff_window_geometry: str = setting(
        "", lambda v: None if isinstance(v, str) and re.fullmatch(r"(\d+x\d+)?([+-]\d+[+-]\d+)?", v)
        else 'must be a Tk geometry like "420x760+1920+0", or "" to let the window manager place it',
        'staff_display = "window": its size and place, e.g. "420x760+1920+0" on a monitor right of a 1920 px one')
    admin_key: str = setting("<Control-a>", text(False), "Tk key binding that opens the admin panel")
    language: str = setting("en", one_of(*UI_LANGUAGES), "Language of what the visitor reads: en or fr")
    admin_pin_hash: str = setting(
        "", lambda v: None if v == "" or is_pin_hash(v) else 'must be "" (no PIN) or a hash written by main.py set-pin',
        'Hash of the staff PIN asked before the admin panel opens or the kiosk quits; "" = no PIN (set it with main.py set-pin)')
    voice: bool = setting(False, boolean,
                          "Spoken prompts for the visitor in [ui] language (needs espeak-ng): please wear a mask, thank you")


@dataclass(frozen=True)
class EmailSection:
    enabled: bool = setting(False, boolean, "Email administrators about events")
    host: str = setting("localhost", text(False), "SMTP server host")
    port: int = setting(587, int_range(1, 65535), "SMTP server port")
    security: str = setting("starttls", one_of("ssl", "starttls", "none"), "Connection security")
    username: str = setting("", text(), "SMTP login; empty for a server without login")
    allow_plaintext_login: bool = setting(False, boolean,
                                          'Log in even with security = "none", sending the password unencrypted (trusted networks only)')
    sender: str = setting("kiosk@example.org", email_address(False), "From address")
    recipients: list = setting([], email_list, "Administrator addresses")
    timeout_s: float = setting(10.0, number_range(1, 300), "SMTP connection timeout")
    notify_on: list = setting(["denied", "uncertain"], event_kinds,
                              "Which decisions send an alert (uncertain: denied because no confident decision came in time)")
    cooldown_s: float = setting(60.0, number_range(0, 86400), "An alert this soon after the previous one gets no email of its own; it rides along in the next")
    hourly_cap: int = setting(20, int_range(1, 10000), "Alert emails per rolling hour; beyond it waiting alerts go out together as one digest")
    report_time: str = setting("", clock_time, 'Email the daily report at this time ("HH:MM"), "" for never')
    retry_initial_s: float = setting(2.0, number_range(0.1, 3600), "First wait before retrying a failed send")
    retry_max_s: float = setting(300.0, number_range(0.1, 86400), "Longest wait between retries (doubling from retry_initial_s)")


@dataclass(frozen=True)
class StorageSection:
    database: str = setting("var/events.sqlite3", path_text, "SQLite event log")
    snapshots: str = setting("var/snapshots", path_text, "Folder for event snapshots")
    retention_days: int = setting(30, int_range(1, 3650), "Snapshots older than this are deleted")
    privacy: bool = setting(False, boolean, "Store and send no images at all")
    keep_granted_images: bool = setting(
        False, boolean, "Also keep the images of granted visitors; by default only denials keep a face image")
    reports: str = setting("var/reports", path_text, "Folder the kiosk writes the daily reports it emails to")


DOOR_OUTPUTS = ("none", "serial", "gpio", "http")  # the relays of kiosk/outputs/


@dataclass(frozen=True)
class DoorSection:
    output: str = setting("none", one_of(*DOOR_OUTPUTS),
                          "What opens the door on a grant from a live camera: none, serial (USB relay board), gpio or http")
    open_s: float = setting(3.0, number_range(0.2, 60), "How long the door stays unlocked after a grant (a new grant extends it)")
    serial_port: str = setting("/dev/ttyUSB0", text(), "serial: the relay board's port")
    baudrate: int = setting(9600, int_range(300, 4_000_000), "serial: the relay board's speed (LCUS boards: 9600)")
    on_frame: str = setting("A0 01 01 A2", hex_frame, "serial: bytes (hex) that close relay 1, unlocking the door")
    off_frame: str = setting("A0 01 00 A1", hex_frame, "serial: bytes (hex) that open relay 1 again, locking the door")
    gpio_pin: int = setting(17, int_range(0, 63), "gpio: the BCM number of the pin driving the relay")
    gpio_active_high: bool = setting(True, boolean,
                                     "gpio: the relay is energised by a high pin; false for active-low relay modules")
    http_url: str = setting("", http_url,
                            "http: URL of the door controller that unlocks the door ({open_s} becomes the seconds, e.g. a Shelly timer)")
    http_method: str = setting("POST", one_of("GET", "POST"), "http: GET, or POST with the decision as JSON")
    http_timeout_s: float = setting(2.0, number_range(0.1, 30), "http: give up on the door controller after this long")
    allow_remote_open: bool = setting(False, boolean, "Let an MQTT command open the door")


_TOPIC_RE = re.compile(r"^[^/+#\x00-\x1f\x7f]+(/[^/+#\x00-\x1f\x7f]+)*$")
_CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9._-]{0,64}$")


def mqtt_topic_prefix(v: Any) -> Optional[str]:
    if isinstance(v, str) and len(v) <= 200 and _TOPIC_RE.match(v):
        return None
    return 'must be an MQTT topic like "mask-kiosk" or "site/kiosks": no "+", "#", empty level or leading/trailing "/"'


def mqtt_client_id(v: Any) -> Optional[str]:
    return None if isinstance(v, str) and _CLIENT_ID_RE.match(v) else \
        'must be up to 64 letters, digits, ".", "_" or "-" ("" = mask-kiosk-<kiosk id>)'


def url_list(v: Any) -> Optional[str]:
    if isinstance(v, list) and all(isinstance(u, str) and u and http_url(u) is None for u in v):
        if len(set(v)) != len(v):
            return "must not name the same URL twice"
        return None
    return 'must be a list of http:// or https:// URLs, e.g. ["https://example.org/kiosk-hook"]'


@dataclass(frozen=True)
class MqttSection:
    enabled: bool = setting(False, boolean, "Publish decisions, health and status to an MQTT broker and take its commands")
    host: str = setting("localhost", text(False), "MQTT broker host")
    port: int = setting(1883, int_range(1, 65535), "MQTT broker port (1883; 8883 with tls)")
    topic_prefix: str = setting("mask-kiosk", mqtt_topic_prefix,
                                "Topics are <topic_prefix>/<kiosk id>/decision, /status, /health, /command, /snapshot")
    username: str = setting("", text(),
                            'Broker login; "" for none. No password here: KIOSK_MQTT_PASSWORD or the keyring (mask-kiosk-mqtt)')
    tls: bool = setting(False, boolean, "Connect with TLS, checking the broker's certificate against the system's CAs")
    client_id: str = setting("", mqtt_client_id, 'MQTT client id; "" = mask-kiosk-<kiosk id>')
    homeassistant: bool = setting(False, boolean,
                                  "Publish Home Assistant discovery config: the kiosk appears as a device with sensors")
    snapshots: bool = setting(False, boolean,
                              "Also publish the picture of a decision (JPEG) on <prefix>/<id>/snapshot, for the"
                              " decisions whose images the kiosk keeps (never with privacy)")
    keepalive_s: int = setting(30, int_range(5, 3600),
                               "Seconds between keepalives; the broker announces the kiosk offline about 1.5x this after it dies")
    retry_max_s: float = setting(30.0, number_range(1, 3600), "Longest wait between reconnection attempts")


@dataclass(frozen=True)
class WebhookSection:
    urls: list = setting([], url_list,
                         "POST each event (JSON) to these URLs, signed in X-Kiosk-Signature (HMAC-SHA256 with the"
                         " secret from KIOSK_WEBHOOK_SECRET or the keyring); [] = no webhooks")
    timeout_s: float = setting(5.0, number_range(0.5, 120), "Give up on one POST after this long (it is retried)")
    retry_initial_s: float = setting(2.0, number_range(0.1, 3600), "First wait before retrying a URL that failed")
    retry_max_s: float = setting(300.0, number_range(0.1, 86400), "Longest wait between retries (doubling from retry_initial_s)")


@dataclass(frozen=True)
class FleetSection:
    database_url: str = setting("", text(),
                                'The fleet\'s PostgreSQL, e.g. "postgresql://kiosk@127.0.0.1:5432/kiosks"; "" = this kiosk alone.'
                                " No password here: KIOSK_FLEET_PASSWORD or the keyring (mask-kiosk-fleet)")
    sync_images: bool = setting(False, boolean, "Also copy each event's face thumbnail (the images the kiosk keeps; none with privacy)")
    retry_initial_s: float = setting(2.0, number_range(0.1, 3600), "First wait before retrying when the fleet database cannot be reached")
    retry_max_s: float = setting(60.0, number_range(0.1, 86400), "Longest wait between retries (doubling from retry_initial_s)")


@dataclass(frozen=True)
class WebSection:
    users_db: str = setting("var/console-users.sqlite3", text(False),
                            "The web console's accounts and sessions (main.py user add), an SQLite file")
    secure_cookies: bool = setting(False, boolean,
                                   "Send the console's cookies over HTTPS only: set it when a TLS proxy serves the console (https requests are seen anyway)")
    session_hours: float = setting(12.0, number_range(0.1, 720), "A console login lasts this long")
    online_within_s: float = setting(600.0, number_range(10, 86400),
                                     "Console on this kiosk's own event log: a kiosk with an event this recent shows online")


@dataclass(frozen=True)
class Config:
    kiosk: KioskSection = field(default_factory=KioskSection)
    camera: CameraSection = field(default_factory=CameraSection)
    model: ModelSection = field(default_factory=ModelSection)
    detection: DetectionSection = field(default_factory=DetectionSection)
    decision: DecisionSection = field(default_factory=DecisionSection)
    ui: UiSection = field(default_factory=UiSection)
    email: EmailSection = field(default_factory=EmailSection)
    storage: StorageSection = field(default_factory=StorageSection)
    door: DoorSection = field(default_factory=DoorSection)
    mqtt: MqttSection = field(default_factory=MqttSection)
    webhook: WebhookSection = field(default_factory=WebhookSection)
    fleet: FleetSection = field(default_factory=FleetSection)
    web: WebSection = field(default_factory=WebSection)
    source_path: Optional[str] = None  # the file it came from, for messages

    def resolve_path(self, value: str) -> Path:
        """Relative paths in the config are relative to the project folder."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else PROJECT_ROOT / path


SECTIONS = {
    "kiosk": KioskSection,
    "camera": CameraSection,
    "model": ModelSection,
    "detection": DetectionSection,
    "decision": DecisionSection,
    "ui": UiSection,
    "email": EmailSection,
    "storage": StorageSection,
    "door": DoorSection,
    "mqtt": MqttSection,
    "webhook": WebhookSection,
    "fleet": FleetSection,
    "web": WebSection,
}


# Keys people may try for a secret, and where it really comes from (kiosk.credentials).
SECRET_KEYS = {
    ("email", "password"): "set KIOSK_SMTP_PASSWORD or use the keyring (python -m keyring set mask-kiosk <username>)",
    ("mqtt", "password"): "set KIOSK_MQTT_PASSWORD or use the keyring (python -m keyring set mask-kiosk-mqtt <username>)",
    ("webhook", "secret"): "set KIOSK_WEBHOOK_SECRET or use the keyring (python -m keyring set mask-kiosk-webhook secret)",
}

_LINE_BREAKING = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
MAX_SHOWN_CHARS = 200  # a 1 MB value in a config is still reported on one readable line


def one_line(text: str, max_chars: Optional[int] = None) -> str:
    """``text`` safe to print on one line: control characters and line separators escaped, and
    cut to ``max_chars`` when given."""
    text = _LINE_BREAKING.sub(lambda m: repr(m.group())[1:-1], text)
    return text if max_chars is None or len(text) <= max_chars else text[:max_chars - 3] + "..."


def _format_value(value: Any) -> str:
    if isinstance(value, str):
        return one_line(f'"{value}"', MAX_SHOWN_CHARS)
    if isinstance(value, bool):
        return "true" if value else "false"
    try:
        return one_line(repr(value), MAX_SHOWN_CHARS)
    except RecursionError:  # e.g. ``source.a.a.a... = 1`` thousands of tables deep
        return f"(a {type(value).__name__} nested too deeply to show)"


def _check_cross_fields(cfg: Config) -> None:
    if cfg.decision.min_votes > cfg.decision.window_frames:
        raise ConfigError(
            f"[decision] min_votes = {cfg.decision.min_votes}: must not exceed window_frames ({cfg.decision.window_frames})"
        )
    if cfg.email.enabled and not cfg.email.recipients:
        raise ConfigError("[email] recipients = []: must name at least one address when email is enabled")
    if cfg.door.output == "serial" and not cfg.door.serial_port.strip():
        raise ConfigError(f"[door] serial_port = {_format_value(cfg.door.serial_port)}:"
                          ' must name the relay board\'s port when output = "serial"')
    if cfg.door.output == "http" and not cfg.door.http_url:
        raise ConfigError('[door] http_url = "": must name the door controller when output = "http"')
    problem = plaintext_login_problem(cfg.email)
    if problem:
        raise ConfigError(f"[email] username = {_format_value(cfg.email.username)}: {problem}")
    problem = database_url_problem(cfg.fleet.database_url)
    if problem:  # shown without any password it holds
        raise ConfigError(f"[fleet] database_url = {_format_value(redacted_url(cfg.fleet.database_url))}: {problem}")
    for url in cfg.webhook.urls:
        if redacted_url(url) != url:
            raise ConfigError(f"[webhook] urls: {_format_value(redacted_url(url))}: must not hold a password;"
                              " receivers check the X-Kiosk-Signature made with KIOSK_WEBHOOK_SECRET")
    if cfg.webhook.retry_max_s < cfg.webhook.retry_initial_s:
        raise ConfigError(f"[webhook] retry_max_s = {cfg.webhook.retry_max_s!r}:"
                          f" must not be less than retry_initial_s ({cfg.webhook.retry_initial_s!r})")
    if cfg.fleet.retry_max_s < cfg.fleet.retry_initial_s:
        raise ConfigError(f"[fleet] retry_max_s = {cfg.fleet.retry_max_s!r}:"
                          f" must not be less than retry_initial_s ({cfg.fleet.retry_initial_s!r})")


def plaintext_login_problem(email: EmailSection) -> Optional[str]:
    """Why logging in with these settings would be refused: a password sent unencrypted. None when fine."""
    if email.username and email.security == "none" and not email.allow_plaintext_login:
        return ('with security = "none" the password would be sent unencrypted; use "starttls" or "ssl",'
                " or set allow_plaintext_login = true on a network you trust")
    return None


_URL_PASSWORD = re.compile(r"(://[^/?#@:]*:)[^/?#]*@")  # up to the last @, as urlsplit reads it
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)


def redacted_url(url: str) -> str:
    """``url`` with any password in it replaced by ***, for messages and logs."""
    return _QUERY_PASSWORD.sub(r"\1***", _URL_PASSWORD.sub(r"\1***@", url))


def database_url_problem(url: str) -> Optional[str]:
    """What is wrong with a ``[fleet] database_url``; None when it is "" or a PostgreSQL URL without a password."""
    if url == "":
        return None
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port
    except ValueError:  # a port that is not a number, an unclosed [IPv6 address
        return "the host and port must read like db.example.org:5432"
    if parts.scheme not in ("postgresql", "postgres") or not parts.netloc and not parts.path.strip("/"):
        return 'must be a postgresql:// URL like "postgresql://kiosk@db.example.org:5432/kiosks", or "" for none'
    if parts.password is not None or _QUERY_PASSWORD.search(url):
        return ("must not hold a password: set KIOSK_FLEET_PASSWORD or store it with"
                " python -m keyring set mask-kiosk-fleet USER")
    return None


def build_config(data: dict, source_path: Optional[str] = None) -> Config:
    """Validate a parsed TOML document (sections of keys) into a ``Config``."""
    if not isinstance(data, dict):
        raise ConfigError("config must be a table of sections")
    sections = {}
    for name, values in data.items():
        if name not in SECTIONS:
            raise ConfigError(f"unknown section [{one_line(name, MAX_SHOWN_CHARS)}]; known sections: {', '.join(SECTIONS)}")
        if not isinstance(values, dict):
            raise ConfigError(f"[{name}] must be a section (a table of keys), got {_format_value(values)}")
        cls = SECTIONS[name]
        known = {f.name: f for f in dataclasses.fields(cls)}
        for key, value in values.items():
            if key not in known and (name, key) in SECRET_KEYS:
                raise ConfigError(f"[{name}] {key}: secrets are never kept in the config file; {SECRET_KEYS[name, key]}")
            if key not in known:
                raise ConfigError(f"[{name}] unknown key '{one_line(key, MAX_SHOWN_CHARS)}'; known keys: {', '.join(known)}")
            problem = known[key].metadata["check"](value)
            if problem:
                raise ConfigError(f"[{name}] {key} = {_format_value(value)}: {problem}")
        sections[name] = cls(**values)
    cfg = Config(**sections, source_path=source_path)
    _check_cross_fields(cfg)
    return cfg


MAX_KEY_DEPTH = 10_000
# a dotted key more than MAX_KEY_DEPTH levels deep (dots), where keys start: a line, a table header, an inline
# table. tomllib keeps every prefix of a dotted key: 10000 levels cost it 0.8 s and 600 MB, one 40 KB
# line "a.a.a...a = 1" of 20000 levels 2.3 GB, and 100000 levels more than anyone waits for
_DEEP_KEY = re.compile(r"""(?:^|[\[{,])[ \t]*+(?:(?:[\w-]++|"[^"\n]*+"|'[^'\n]*+')[ \t]*+\.[ \t]*+){%d}""" % (MAX_KEY_DEPTH + 1),
                       re.MULTILINE)


def load_config(path: Optional[Path] = None) -> Config:
    """Read and validate a config file; no file at the default path means all defaults."""
    if path is None:
        if not DEFAULT_CONFIG_PATH.exists():
            return Config()
        path = DEFAULT_CONFIG_PATH
    path = Path(path)
    shown = one_line(str(path))  # a file name with a line break must not break the one-line error
    if path.exists() and not path.is_file() and not path.is_dir():  # a FIFO blocks for ever, /dev/zero never ends
        raise ConfigError(f"config file {shown} is not a regular file")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"config file {shown} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {shown}: {exc.strerror}") from None
    try:
        document = raw.decode("utf-8")
        if _DEEP_KEY.search(document):
            raise ConfigError(f"config file {shown} is not a config: a dotted key more than {MAX_KEY_DEPTH} levels deep")
        data = tomllib.loads(document)
    except ConfigError:
        raise
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {shown} is not valid TOML: {one_line(str(exc))}") from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise ConfigError(f"config file {shown} is not a config: arrays or tables nested too deeply") from None
    except Exception as exc:  # any other parser failure is still one line, never a traceback
        raise ConfigError(f"config file {shown} cannot be parsed: {type(exc).__name__}: {one_line(str(exc))}") from None
    try:
        return build_config(data, source_path=str(path))
    except ConfigError as exc:
        raise ConfigError(f"{shown}: {exc}") from None


def toml_text(value: Any) -> str:
    """``value`` (a bool, number or string) as TOML: strings quoted, with backslashes, quotes and
    control characters escaped."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return '"' + re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\u{ord(m.group()):04x}", escaped) + '"'
    raise TypeError(f"cannot write a {type(value).__name__} as a config value")


def write_setting(path: Path, section: str, key: str, value: Any) -> Config:
    """Set ``[section] key = value`` (a bool, number or string) in the config file at ``path``
    (created when missing), keeping every other line and comment as written and the file's
    permissions; the result is validated before it replaces the file."""
    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    setting_line = f"{key} = {toml_text(value)}"
    header = re.compile(rf"^\s*\[\s*{re.escape(section)}\s*\]\s*(#.*)?$")
    start = next((i for i, line in enumerate(lines) if header.match(line)), None)
    if start is None:
        lines += ([""] if lines and lines[-1].strip() else []) + [f"[{section}]", setting_line]
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
        existing = next((i for i in range(start + 1, end) if re.match(rf"^\s*{re.escape(key)}\s*=", lines[i])), None)
        if existing is None:
            lines.insert(start + 1, setting_line)
        else:
            lines[existing] = setting_line
    text_out = "\n".join(lines) + "\n"
    try:
        cfg = build_config(tomllib.loads(text_out), source_path=str(path))
    except (tomllib.TOMLDecodeError, ConfigError) as exc:
        raise ConfigError(f"{path}: cannot set [{section}] {key}: {exc}") from None
    staging = path.with_name(path.name + ".new")
    try:
        staging.write_text(text_out, encoding="utf-8")
        if path.exists():
            os.chmod(staging, stat.S_IMODE(path.stat().st_mode))
        staging.replace(path)
    except OSError as exc:
        raise ConfigError(f"cannot write config file {path}: {exc.strerror}") from None
    return cfg


def with_overrides(cfg: Config, overrides: dict[str, Any]) -> Config:
    """Apply command-line overrides given as {"section.key": value}, validated like the file."""
    for dotted, value in overrides.items():
        if value is None:
            continue
        section_name, key = dotted.split(".", 1)
        section = getattr(cfg, section_name)
        spec = {f.name: f for f in dataclasses.fields(section)}[key]
        problem = spec.metadata["check"](value)
        if problem:
            raise ConfigError(f"[{section_name}] {key} = {_format_value(value)}: {problem}")
        cfg = dataclasses.replace(cfg, **{section_name: dataclasses.replace(section, **{key: value})})
    _check_cross_fields(cfg)
    return cfg


def describe() -> str:
    """Every key with its default and meaning, for ``--help`` texts and docs."""
    lines = []
    for name, cls in SECTIONS.items():
        lines.append(f"[{name}]")
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
            lines.append(f"  {f.name} = {_format_value(default)}    # {f.metadata['doc']}")
    return "\n".join(lines)
