"""``main.py run --validate-config`` checks every path the kiosk needs, as the kiosk's start does:
a config it reports OK is one the kiosk starts with, and every refusal is one line, exit 2."""

from __future__ import annotations

import shutil
import os
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.helpers import PROJECT_ROOT
from tests.helpers.cli import main_command


def storage_in(tmp_path: Path) -> str:
    return (f'[storage]\ndatabase = "{tmp_path / "var" / "events.sqlite3"}"\n'
            f'snapshots = "{tmp_path / "var" / "snapshots"}"\nreports = "{tmp_path / "var" / "reports"}"\n')


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(text, encoding="utf-8")
    return path


def validate(config: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(main_command("run", "--validate-config", "--config", str(config), *options),
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=90)


def refusal(config: Path, *options: str) -> str:
    """The one stderr line of a refused config (exit 2, nothing on stdout, no traceback)."""
    done = validate(config, *options)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def validated(tmp_path: Path, text: str) -> bool:
    """True when ``main.py run --validate-config`` says the config is OK."""
    done = validate(write_config(tmp_path, text))
    return done.returncode == 0 and done.stdout.startswith("config OK")


def refused(tmp_path: Path, text: str) -> str:
    config = write_config(tmp_path, text)
    return refusal(config).removeprefix(f"error: {config}: ")


@pytest.fixture
def image_folder(tmp_path) -> Path:
    folder = tmp_path / "door-photos"
    folder.mkdir()
    cv2.imwrite(str(folder / "visitor.png"), np.full((60, 80, 3), 128, np.uint8))
    return folder


# --- configs that work --------------------------------------------------------------------

def test_a_config_whose_paths_all_work_is_ok_and_nothing_is_created(tmp_path, image_folder):
    config = write_config(tmp_path, f'[camera]\nsource = "{image_folder}"\n' + storage_in(tmp_path))
    done = validate(config)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"config OK: {config}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["door-photos", "kiosk.toml"]  # var/ is not made


def test_cameras_urls_and_the_demo_are_not_opened(tmp_path):
    for source in ("3", '"rtsp://camera.invalid/stream"', '"demo"'):
        config = write_config(tmp_path, f"[camera]\nsource = {source}\n" + storage_in(tmp_path))
        done = validate(config)
        assert done.returncode == 0, done.stderr


# --- parser failures: one line ------------------------------------------------------------

@pytest.mark.parametrize("document", [
    "a = " + "[" * 10000 + "]" * 10000,
    "a = " + "{b = " * 10000 + "1" + "}" * 10000,
])
def test_nesting_10000_deep_is_one_line(tmp_path, document):
    config = write_config(tmp_path, document)
    assert refusal(config) == f"error: config file {config} is not a config: arrays or tables nested too deeply"


def test_a_value_10000_tables_deep_is_one_line(tmp_path):
    assert refused(tmp_path, "[camera]\nsource" + ".a" * 10000 + " = 1\n").startswith(
        "[camera] source = (a dict nested too deeply to show): must be a camera index")


def test_line_breaks_in_a_value_or_key_stay_on_one_line(tmp_path):
    assert refused(tmp_path, '[kiosk]\nid = "front\\ndoor\\u2028"\n') == (
        "[kiosk] id = \"front\\ndoor\\u2028\": must be 1-64 letters, digits, '.', '_' or '-'")
    assert refused(tmp_path, '[kiosk]\n"i\\rd" = 1\n').startswith("[kiosk] unknown key 'i\\rd'")


# --- the model folder ---------------------------------------------------------------------

def test_missing_model_folder(tmp_path):
    missing = tmp_path / "no-model"
    assert refused(tmp_path, f'[model]\ndir = "{missing}"\n') == f'[model] dir = "{missing}": no such folder'


@pytest.mark.parametrize("section, key, made, problem", [
    ("model", "dir", "folder", "no model card at {path}/model_card.json"),  # an empty model folder
    ("model", "dir", "file", "is a file, not a model folder"),
    ("storage", "database", "folder", "is a folder, not a database file"),
])
def test_a_path_of_the_wrong_kind(tmp_path, section, key, made, problem):
    path = tmp_path / "given"
    if made == "folder":
        path.mkdir()
    else:
        path.write_bytes(b"x")
    assert refused(tmp_path, f'[{section}]\n{key} = "{path}"\n') == (
        f'[{section}] {key} = "{path}": {problem.format(path=path)}')


def test_model_card_without_its_model_file_or_with_a_bad_one(tmp_path, model_dir):
    folder = tmp_path / "card-only"
    folder.mkdir()
    shutil.copy(model_dir / "model_card.json", folder)
    model = folder / "mask_classifier.tflite"
    assert refused(tmp_path, f'[model]\ndir = "{folder}"\n') == f'[model] dir = "{folder}": model file {model} is missing'
    model.write_bytes(b"")
    assert refused(tmp_path, f'[model]\ndir = "{folder}"\n') == (
        f'[model] dir = "{folder}": model file {model} is not a valid TFLite model (no TFL3 identifier)')
    (folder / "model_card.json").write_text("{not json", encoding="utf-8")
    assert refused(tmp_path, f'[model]\ndir = "{folder}"\n').startswith(
        f'[model] dir = "{folder}": cannot read model card {folder / "model_card.json"}: ')


def test_model_given_on_the_command_line_does_not_blame_the_file(tmp_path):
    config = write_config(tmp_path, "")
    assert refusal(config, "--model", str(tmp_path / "nope")) == f'error: [model] dir = "{tmp_path / "nope"}": no such folder'


# --- storage ------------------------------------------------------------------------------

def test_database_under_proc(tmp_path):
    assert refused(tmp_path, '[storage]\ndatabase = "/proc/x/events.sqlite3"\n') == (
        '[storage] database = "/proc/x/events.sqlite3": its folder /proc/x cannot be created in /proc'
        " (No such file or directory)")


def test_database_that_is_not_sqlite_passes_and_is_left_for_the_kiosk_to_move_aside(tmp_path):
    """The kiosk starts on such a file (it moves it aside and opens a fresh log, see
    tests/events/test_database_integrity.py), so the config is OK; the check writes nothing."""
    for content in (b"", b"PK\x03\x04 a zip file"):
        database = tmp_path / "events.sqlite3"
        database.write_bytes(content)
        assert validated(tmp_path, f'[storage]\ndatabase = "{database}"\n')
        assert database.read_bytes() == content


def test_snapshot_and_report_folders_that_cannot_be_made(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    assert refused(tmp_path, f'[storage]\nsnapshots = "{blocker / "snaps"}"\n') == (
        f'[storage] snapshots = "{blocker / "snaps"}": cannot be created: {blocker} is not a folder')
    assert refused(tmp_path, '[storage]\nreports = "/proc/kiosk-reports"\n') == (
        '[storage] reports = "/proc/kiosk-reports": cannot be created in /proc (No such file or directory)')
    assert refused(tmp_path, f'[storage]\nreports = "{blocker}"\n') == f'[storage] reports = "{blocker}": is not a folder'


def test_snapshots_are_not_checked_in_privacy_mode(tmp_path):
    config = write_config(tmp_path, '[storage]\nprivacy = true\nsnapshots = "/proc/kiosk-snapshots"\n'
                          f'database = "{tmp_path / "events.sqlite3"}"\nreports = "{tmp_path / "reports"}"\n')
    assert validate(config).returncode == 0


# --- sources ------------------------------------------------------------------------------

def test_missing_source_file(tmp_path):
    missing = tmp_path / "entrance.mp4"
    assert refused(tmp_path, f'[camera]\nsource = "{missing}"\n') == (
        f'[camera] source = "{missing}": no such file or folder')


def test_empty_image_folder(tmp_path):
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    (folder / "notes.txt").write_text("no pictures here", encoding="utf-8")
    assert refused(tmp_path, f'[camera]\nsource = "{folder}"\n').startswith(
        f'[camera] source = "{folder}": image folder {folder} has no images (')


def test_source_file_that_is_not_a_video(tmp_path):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00\x01 not a video" * 10)
    assert refused(tmp_path, f'[camera]\nsource = "{clip}"\n') == (
        f'[camera] source = "{clip}": not a video OpenCV can open')


def test_a_relative_source_is_shown_with_the_path_it_means(tmp_path):
    assert refused(tmp_path, '[camera]\nsource = "no-such-clip.mp4"\n') == (
        f'[camera] source = "no-such-clip.mp4" ({PROJECT_ROOT / "no-such-clip.mp4"}): no such file or folder')


# --- the kiosk's start agrees -------------------------------------------------------------

def test_the_kiosk_refuses_at_start_what_validation_refuses(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for text in (f'[camera]\nsource = "{folder}"\n', '[storage]\ndatabase = "/proc/x/events.sqlite3"\n'):
        config = write_config(tmp_path, text)
        expected = refusal(config)
        done = subprocess.run(main_command("run", "--headless", "--max-frames", "1", "--config", str(config)),
                              cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=90)
        assert done.returncode == 2
        assert done.stderr.strip().splitlines()[-1] == expected


def test_paths_that_would_block_or_loop_are_refused_in_one_line(tmp_path):
    """Found by tools.fuzz: a model card that is a FIFO hung --validate-config, a database that is a
    symbolic link loop passed it and then stopped the kiosk, and ~nosuchuser in --source was a traceback."""
    model = tmp_path / "model"
    model.mkdir()
    os.mkfifo(model / "model_card.json")
    assert refused(tmp_path, f'[model]\ndir = "{model}"\n').endswith("its model_card.json is not a regular file")
    (tmp_path / "loop").symlink_to("loop")
    assert refused(tmp_path, f'[storage]\ndatabase = "{tmp_path / "loop"}"\n').endswith(
        "cannot be used (Too many levels of symbolic links)")
    line = refusal(write_config(tmp_path, ""), "--source", "~no_such_user_here/door.mp4")
    assert line.startswith("error: --source ~no_such_user_here/door.mp4: cannot be used as a path")
