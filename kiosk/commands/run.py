"""Start the kiosk: watch the entrance, show ACCESS GRANTED / DENIED, log and report every decision.

Sources (--source or [camera] source): a camera index (default 0; the demo feed when camera 0
is missing), a video file, an RTSP/HTTP URL, a folder of images, or "demo".

examples:
  python main.py                                   # the kiosk window on camera 0
  python main.py run --source demo --fullscreen    # the built-in demo, in kiosk mode
  python main.py run --config /etc/kiosk.toml --validate-config
  python main.py run --headless --source entrance.mp4 > decisions.jsonl
      (one JSON line per decision: {"time", "decision", "label", "score", "faces"})

Configuration: kiosk.toml (see kiosk.example.toml); command-line options override it.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from kiosk.commands.config_checks import ModelFilesError, check_config_paths
from kiosk.commands.options import add_pipeline_options, load_command_config
from kiosk.config import Config, with_overrides
from kiosk.errors import KioskError
from kiosk.logging_setup import setup_logging
from kiosk.camera.sources import DEMO, parse_source

if TYPE_CHECKING:  # pragma: no cover
    from kiosk.door.runtime import KioskRuntime
    from kiosk.events.services import EventServices
    from kiosk.outputs.door import DoorOutput

log = logging.getLogger("kiosk.run")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_pipeline_options(parser)
    parser.add_argument("--source", metavar="SRC",
                        help='camera index, video file, rtsp:// or http:// URL, image folder, or "demo"')
    parser.add_argument("--loop", action=argparse.BooleanOptionalAction, default=None,
                        help="restart a video file or image folder when it ends (overrides [camera] loop)")
    parser.add_argument("--kiosk-id", metavar="ID", help="name of this terminal (overrides [kiosk] id)")
    parser.add_argument("--fullscreen", action="store_true", default=None, help="start in fullscreen kiosk mode")
    parser.add_argument("--headless", action="store_true",
                        help="no window: print one JSON line per decision on stdout")
    parser.add_argument("--max-frames", type=_positive_int, metavar="N", help="stop after analysing N frames")
    parser.add_argument("--validate-config", action="store_true",
                        help='only check the configuration: prints "config OK: <path>" (exit 0) or the error (exit 2)')


def _cli_source(value: Optional[str]) -> Any:
    """A file or folder named on the command line is relative to the working directory
    (in the config file, to the project folder)."""
    if value is None:
        return None
    source = parse_source(value)
    if isinstance(source, str) and "://" not in source and source.strip().lower() != DEMO:
        try:
            return str(Path(source).expanduser().resolve())
        except (RuntimeError, OSError) as exc:  # ~nosuchuser/..., a link loop
            raise KioskError(f"--source {value}: cannot be used as a path ({exc})") from None
    return source


def build_run_config(args: argparse.Namespace) -> Config:
    cfg = load_command_config(args)
    return with_overrides(cfg, {
        "camera.source": _cli_source(args.source),
        "camera.loop": args.loop,
        "kiosk.id": args.kiosk_id,
        "kiosk.fullscreen": args.fullscreen,
    })


def _event_services(cfg: Config, source_kind: str) -> "EventServices":
    """Event log, snapshots and email alerts; started before the first frame can be decided."""
    from kiosk.events.services import EventServices

    services = EventServices(cfg, source_kind)
    services.start()
    return services


def _camera_state(runtime: "KioskRuntime") -> Callable[[], str]:
    """The camera as the fleet's overview shows it: live, demo, or offline (also while reconnecting,
    and once a replayed file has ended)."""
    from kiosk.door.health import UP_STATES

    return lambda: state if (state := runtime.capture.status.state) in UP_STATES else "offline"


def _door_output(cfg: Config, source_kind: str, services: "EventServices") -> Optional["DoorOutput"]:
    """The relay ``[door] output`` names, started; None for "none". Its failures go in the event log
    as ``health`` events (alerted like the others), and so do manual openings for now."""
    from kiosk.outputs.door import build_door_output

    door = build_door_output(cfg, source_kind, on_health=services.on_health,
                             on_manual_open=lambda reason: services.on_health("manual_open", reason, alert=False))
    if door is not None:
        door.start()
    return door


def _model_failed(cfg: Config, error: Exception) -> None:
    """A model that cannot be loaded keeps the kiosk from starting: a health event says so first,
    emailed to the administrators like an alert (the sender gets its grace period; what it cannot
    deliver stays in the outbox for the next start). Never for the demo."""
    from kiosk.camera.sources import make_source
    from kiosk.door.health import MODEL_FAILED

    try:
        services = _event_services(cfg, make_source(cfg.camera.source, cfg).kind)
    except Exception as exc:  # the model's error is the one to print; this is its footnote
        log.error("the model failure could not be recorded: %s", exc)
        return
    services.on_health(MODEL_FAILED, f"the mask model could not be loaded, the kiosk did not start: {error}")
    services.stop()


class _Restart:
    """``reload_config`` over MQTT: stop the way a service manager's SIGTERM stops the kiosk (the
    window or headless loop ends, the outbox flushes, the door locks), then start this same
    command again, which reads the config file anew. The process keeps its id, so a service
    manager sees one kiosk throughout."""

    def __init__(self) -> None:
        self.requested = threading.Event()

    def __call__(self) -> None:
        self.requested.set()
        os.kill(os.getpid(), signal.SIGTERM)

    def start_again(self) -> None:
        log.info("restarting to apply the config file (reload_config)")
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])


def run(args: argparse.Namespace) -> int:
    cfg = build_run_config(args)
    # the paths the config names, checked alike by --validate-config and at start, so the two agree
    given = [key for key, option in (("camera.source", args.source), ("model.dir", args.model)) if option is not None]
    try:
        check_config_paths(cfg, from_command_line=given)
    except ModelFilesError as exc:
        if not args.validate_config:  # the kiosk will not start: the administrators hear why
            _model_failed(cfg, exc)
        raise
    if args.validate_config:
        print(f"config OK: {cfg.source_path or 'built-in defaults (no kiosk.toml)'}")
        return 0
    if args.log_level == "INFO" and cfg.kiosk.log_level != "INFO":
        setup_logging(cfg.kiosk.log_level)

    from kiosk.vision.pipeline import build_analyzer
    from kiosk.camera.sources import open_source
    from kiosk.vision.classifier import ModelLoadError

    try:
        analyzer = build_analyzer(cfg, video=True)
    except ModelLoadError as exc:
        _model_failed(cfg, exc)
        raise
    source = open_source(cfg, explicit=args.source is not None)
    try:
        services = _event_services(cfg, source.kind)
    except KioskError:
        source.close()
        raise
    door = _door_output(cfg, source.kind, services)
    restart = _Restart()
    if services.mqtt is not None:
        services.mqtt.door = door  # the MQTT "open" command ([door] allow_remote_open) works it
        services.mqtt.restart = restart  # and "reload_config" restarts on the config file
    outputs = [door] if door is not None else []  # first: the door hears of a grant before the disk is written
    try:
        if args.headless:
            from kiosk.door.headless import build_headless_runtime, run_headless

            runtime = build_headless_runtime(cfg, analyzer, source, services, max_frames=args.max_frames,
                                             outputs=outputs)
            services.camera_state = _camera_state(runtime)
            return run_headless(runtime, services)

        from kiosk.door.runtime import KioskRuntime
        from kiosk.ui.app import run_window

        runtime = KioskRuntime(cfg, analyzer, [*outputs, services], source, max_frames=args.max_frames,
                               on_health=services.on_health)
        services.camera_state = _camera_state(runtime)
        try:
            return run_window(cfg, runtime, services, door)
        except KioskError:  # e.g. no display: nothing was started, release what we opened
            services.stop()
            source.close()
            raise
    finally:
        if door is not None:
            door.stop()  # after the runtime: no grant can come any more; the door is left locked
        if restart.requested.is_set():
            restart.start_again()
