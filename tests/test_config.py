"""Config validation: every bad value is one line naming the key and the value; the example stays in sync."""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from kiosk.commands import run as run_command
from kiosk.config import SECTIONS, Config, ConfigError, load_config, with_overrides

from tests.helpers import PROJECT_ROOT
EXAMPLE = PROJECT_ROOT / "kiosk.example.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message
    return message.removeprefix(f"{path}: ")


# --- the documented example -----------------------------------------------------------------

def test_example_config_loads_and_documents_every_key():
    cfg = load_config(EXAMPLE)
    assert cfg == dataclasses.replace(Config(), source_path=str(EXAMPLE))  # it shows the defaults
    document = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert list(document) == list(SECTIONS)
    for name, cls in SECTIONS.items():
        assert sorted(document[name]) == sorted(f.name for f in dataclasses.fields(cls)), (
            f"[{name}] out of sync: python -m kiosk.example_config > kiosk.example.toml")


def test_example_explains_every_key_in_a_comment():
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if line and not line.startswith(("#", "[")):
            assert lines[i - 1].startswith("# "), f"no description above: {line}"


# --- bad values: exact one-line messages ----------------------------------------------------

def test_unknown_key_names_the_key_and_lists_the_known_ones(tmp_path):
    known = ", ".join(f.name for f in dataclasses.fields(SECTIONS["camera"]))
    assert error_of(tmp_path, "[camera]\nsourse = 1\n") == f"[camera] unknown key 'sourse'; known keys: {known}"


def test_unknown_section(tmp_path):
    assert error_of(tmp_path, "[kamera]\nsource = 1\n") == (
        f"unknown section [kamera]; known sections: {', '.join(SECTIONS)}")


def test_bad_type(tmp_path):
    assert error_of(tmp_path, '[decision]\nhold_s = "3"\n') == '[decision] hold_s = "3": must be a number from 0 to 600'
    assert error_of(tmp_path, "[camera]\nloop = 1\n") == "[camera] loop = 1: must be true or false"


def test_out_of_range(tmp_path):
    assert error_of(tmp_path, "[camera]\noffline_after_s = 0.1\n") == (
        "[camera] offline_after_s = 0.1: must be a number from 0.5 to 60")
    assert error_of(tmp_path, "[decision]\nwindow_frames = 0\n") == (
        "[decision] window_frames = 0: must be an integer from 1 to 60")
    assert error_of(tmp_path, "[camera]\nsource = -1\n").startswith("[camera] source = -1: must be a camera index")


def test_bad_choice(tmp_path):
    assert error_of(tmp_path, '[decision]\nno_mask_policy = "maybe"\n') == (
        '[decision] no_mask_policy = "maybe": must be one of "hard", "soft"')
    assert error_of(tmp_path, '[decision]\nincorrect_mask_is = "ok"\n') == (
        '[decision] incorrect_mask_is = "ok": must be one of "no_mask", "mask"')


def test_cross_field(tmp_path):
    assert error_of(tmp_path, "[decision]\nwindow_frames = 5\nmin_votes = 6\n") == (
        "[decision] min_votes = 6: must not exceed window_frames (5)")


def test_not_toml(tmp_path):
    path = write(tmp_path, "[camera\nsource = 1\n")
    with pytest.raises(ConfigError, match=r"is not valid TOML"):
        load_config(path)


def test_missing_file_is_a_one_line_error(tmp_path):
    with pytest.raises(ConfigError, match=r"does not exist"):
        load_config(tmp_path / "nope.toml")


def test_overrides_are_validated_like_the_file():
    with pytest.raises(ConfigError) as info:
        with_overrides(Config(), {"kiosk.id": "front door!"})
    assert str(info.value) == "[kiosk] id = \"front door!\": must be 1-64 letters, digits, '.', '_' or '-'"
    assert with_overrides(Config(), {"camera.source": 2, "kiosk.id": None}).camera.source == 2


# --- command line ---------------------------------------------------------------------------

def parse_run_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--log-level", default="INFO")
    run_command.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_command_line_overrides_the_file(tmp_path):
    path = write(tmp_path, '[kiosk]\nid = "side-door"\n[camera]\nsource = "demo"\nloop = true\n')
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"")
    cfg = run_command.build_run_config(parse_run_args("--config", str(path)))
    assert (cfg.kiosk.id, cfg.camera.source, cfg.camera.loop) == ("side-door", "demo", True)
    cfg = run_command.build_run_config(parse_run_args(
        "--config", str(path), "--source", "3", "--kiosk-id", "lobby", "--no-loop", "--fullscreen",
        "--detector", "haar-stock"))
    assert (cfg.kiosk.id, cfg.camera.source, cfg.camera.loop, cfg.kiosk.fullscreen) == ("lobby", 3, False, True)
    assert cfg.detection.detector == "haar-stock"
    cfg = run_command.build_run_config(parse_run_args("--config", str(path), "--source", str(video)))
    assert cfg.camera.source == str(video.resolve())


def run_main(*argv: str, cwd: Path = PROJECT_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(PROJECT_ROOT / "main.py"), *argv], cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def test_validate_config_ok(tmp_path):
    path = write(tmp_path, '[kiosk]\nid = "side-door"\n')
    done = run_main("run", "--config", str(path), "--validate-config")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"config OK: {path}"


def test_validate_config_error_is_one_line_with_exit_2(tmp_path):
    path = write(tmp_path, "[email]\nport = 99999\n")
    done = run_main("run", "--config", str(path), "--validate-config")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip() == f"error: {path}: [email] port = 99999: must be an integer from 1 to 65535"


def test_bad_command_line_value_is_one_line_with_exit_2(tmp_path):
    path = write(tmp_path, "")
    done = run_main("--config", str(path), "--kiosk-id", "no spaces allowed", "--validate-config")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: [kiosk] id = \"no spaces allowed\": must be 1-64 letters, digits, '.', '_' or '-'")


def test_every_ui_language_has_every_message():
    from kiosk.config import UI_LANGUAGES
    from kiosk.ui.messages import MESSAGES

    assert set(MESSAGES) == set(UI_LANGUAGES)
    for language in UI_LANGUAGES:
        assert set(MESSAGES[language]) == set(MESSAGES["en"]), language
