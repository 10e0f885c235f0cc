"""What a config names on disk, checked before the kiosk starts: the model folder, the event
database, the snapshot and report folders, and a video file or image folder source.

``main.py run --validate-config`` and the kiosk's own start run these same checks, so a config
reported OK is one the kiosk starts with. Each problem is a ``ConfigError`` of one line naming
the key and the path, e.g.
``kiosk.toml: [storage] database = "/proc/x/events.sqlite3": its folder /proc/x cannot be created ...``.

The checks are cheap and change nothing: files are read a few bytes deep (the model is not
loaded), and whether a folder can be written is tried with an empty temporary folder that is
removed at once (``os.access`` says yes to root even where nothing can be created, e.g. /proc).
Camera indexes and stream URLs are not checked: that would take the device or seconds, and the
capture thread retries them anyway. Voice prompts on without espeak-ng installed is a warning of
one line, not an error: the kiosk works without them.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Collection, Optional

from kiosk.camera.frame_source import SourceError
from kiosk.camera.media import MediaError
from kiosk.camera.sources import DEMO, ImageFolderSource, VideoFileSource, make_source
from kiosk.config import Config, ConfigError, one_line
from kiosk.ui.voice import voice_problem  # imports no Tk
from kiosk.vision.model_spec import MODEL_CARD_NAME, ModelSpec, ModelSpecError, read_model_card, tflite_path

TFLITE_IDENTIFIER = b"TFL3"  # bytes 4-8 of every TFLite flatbuffer

log = logging.getLogger("kiosk.config")


class ModelFilesError(ConfigError):
    """The model folder cannot be used: at start this is also a model-failed health event."""


def check_config_paths(cfg: Config, from_command_line: Collection[str] = ()) -> None:
    """Raise ``ConfigError`` for the first path in ``cfg`` the kiosk could not use.

    ``from_command_line`` names the keys ("model.dir", "camera.source") whose value came from
    an option rather than the file: their messages do not blame the config file.
    """
    storage = cfg.storage
    checks = [
        ("model.dir", cfg.model.dir, _model_problem),
        ("storage.database", storage.database, _database_problem),
        ("storage.reports", storage.reports, _folder_problem),
        ("camera.source", cfg.camera.source, None),
    ]
    if not storage.privacy:  # with privacy on no snapshot is ever written
        checks.insert(2, ("storage.snapshots", storage.snapshots, _folder_problem))
    for key, value, problem_of in checks:
        if problem_of is None:
            path, problem = _source_problem(cfg, value)
        else:
            path = cfg.resolve_path(value)
            problem = problem_of(path)
        if problem:
            prefix = f"{cfg.source_path}: " if cfg.source_path and key not in from_command_line else ""
            section, name = key.split(".")
            shown = f'"{value}"' if str(path) == str(value) else f'"{value}" ({path})'
            error = ModelFilesError if key == "model.dir" else ConfigError
            raise error(one_line(f"{prefix}[{section}] {name} = {shown}: {problem}"))
    problem = voice_problem(cfg)
    if problem:
        log.warning("%s", problem)


# --- one check per kind of path --------------------------------------------------------------

def _model_problem(folder: Path) -> Optional[str]:
    """The model card parses and names a TFLite file that is there and looks like one."""
    if not folder.exists():
        return "no such folder"
    if not folder.is_dir():
        return "is a file, not a model folder"
    card_path = folder / MODEL_CARD_NAME
    if card_path.exists() and not card_path.is_file():  # a FIFO or device would block the read
        return f"its {MODEL_CARD_NAME} is not a regular file"
    try:
        card = read_model_card(folder)
        ModelSpec.from_card_section(card["spec"])
        model = tflite_path(folder, card)
    except ModelSpecError as exc:
        return str(exc)
    if not model.is_file():
        return f"model file {model} is missing"
    try:
        with open(model, "rb") as file:
            head = file.read(8)
    except OSError as exc:
        return f"cannot read model file {model}: {exc.strerror}"
    if head[4:8] != TFLITE_IDENTIFIER:
        return f"model file {model} is not a valid TFLite model (no TFL3 identifier)"
    return None


def _database_problem(path: Path) -> Optional[str]:
    """An SQLite file that can be written, in a folder where its journal can be written too."""
    try:
        path.stat()
    except FileNotFoundError:
        pass
    except OSError as exc:  # a symbolic link loop, a name too long: the kiosk could not open it either
        return f"cannot be used ({exc.strerror})"
    if path.is_dir():
        return "is a folder, not a database file"
    if path.exists():
        if not path.is_file():
            return "is not a regular file"
        try:
            with open(path, "r+b"):  # opened for writing, nothing written
                pass
        except OSError as exc:
            return f"cannot be opened for writing ({exc.strerror})"
        # an empty, damaged or non-SQLite file is no reason to keep the door down: the kiosk
        # moves it aside at start, opens a fresh log and records a health event (events/store.py)
    problem = _folder_problem(path.parent)
    return f"its folder {path.parent} {problem}" if problem else None


def _folder_problem(folder: Path) -> Optional[str]:
    """A folder that exists and is writable, or that can be created (the text says what ``folder`` is)."""
    existing = folder
    while not os.path.lexists(existing) and existing != existing.parent:
        existing = existing.parent
    if existing.is_symlink() and not existing.exists():
        return f"cannot be created: {existing} is a broken link"
    if not existing.is_dir():
        return "is not a folder" if existing == folder else f"cannot be created: {existing} is not a folder"
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".kiosk-check-", dir=existing))
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return f"is not writable ({reason})" if existing == folder else f"cannot be created in {existing} ({reason})"
    return None


def _source_problem(cfg: Config, value: object) -> tuple[object, Optional[str]]:
    """(the path shown, the problem) of a video file or image folder source; a camera index,
    a URL and the demo are not checked here."""
    if isinstance(value, int) or not isinstance(value, str) or "://" in value or value.strip().lower() == DEMO:
        return value, None
    source = make_source(value, cfg)
    if isinstance(source, ImageFolderSource):
        path = source.folder
    elif isinstance(source, VideoFileSource):
        path = source.path
        if not path.exists():
            return path, "no such file or folder"
        if not path.is_file():
            return path, "is neither a video file nor a folder of images"
    else:  # a digit string is a camera index
        return value, None
    try:
        source.open()  # lists the folder's images, or opens the video file: no frame is decoded
    except (SourceError, MediaError) as exc:
        return path, str(exc).removeprefix(f"{path}: ")
    finally:
        source.close()
    return path, None
