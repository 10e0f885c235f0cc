"""Config files and path values that ``python -m tools.fuzz`` found crashing, hanging or blowing up
``--validate-config``: each is now one line, at once, with little memory."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from kiosk.config import ConfigError, build_config, load_config
from tests.helpers import PROJECT_ROOT


def _refusal(tmp_path, config_path) -> str:
    """``main.py run --validate-config`` on ``config_path``: exit 2 and exactly one stderr line."""
    done = subprocess.run([sys.executable, str(PROJECT_ROOT / "main.py"), "run", "--validate-config", "--config", str(config_path)],
                          capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


@pytest.mark.parametrize("section, key", [("model", "dir"), ("storage", "database"), ("storage", "snapshots"),
                                          ("storage", "reports"), ("camera", "source")])
@pytest.mark.parametrize("value, problem", [
    ("~no_such_user_zz/x", "names the home folder of ~no_such_user_zz, a user unknown here"),  # was a RuntimeError traceback
    ("a\0b", "must not contain a NUL character"),  # was OK, then a ValueError traceback at start
    ("x" * 5000, "has a name of 5000 bytes, longer than the 255 a file system allows"),  # was an OSError traceback
    ("/a" * 2100, "is longer than the 4095 bytes a path may have"),
])
def test_a_path_that_cannot_name_a_file_is_refused_with_the_config(section, key, value, problem):
    with pytest.raises(ConfigError) as refused:
        build_config({section: {key: value}})
    message = str(refused.value)
    assert message.startswith(f"[{section}] {key} = ") and message.endswith(problem) and "\n" not in message


def test_ordinary_paths_urls_and_home_folders_still_pass():
    cfg = build_config({"model": {"dir": "~/models"}, "storage": {"database": "~root/events.sqlite3"},
                        "camera": {"source": "rtsp://user:pass@10.0.0.5/" + "x" * 5000}})
    assert cfg.model.dir == "~/models"
    build_config({"camera": {"source": "demo"}})
    build_config({"camera": {"source": "entrance videos/ünïcødé 📷.mp4"}})


def test_a_fifo_or_a_device_given_as_the_config_is_refused_at_once(tmp_path):
    fifo = tmp_path / "kiosk.toml"
    os.mkfifo(fifo)  # reading it used to wait for a writer for ever
    assert _refusal(tmp_path, fifo) == f"error: config file {fifo} is not a regular file"
    # reading /dev/zero used to grow until the memory ran out
    assert _refusal(tmp_path, "/dev/zero") == "error: config file /dev/zero is not a regular file"


def test_deeply_dotted_keys_are_refused_before_the_parser_spends_gigabytes(tmp_path):
    config = tmp_path / "deep.toml"
    config.write_text("[camera]\nsource" + ".a" * 20000 + " = 1\n")  # 40 KB that cost tomllib 2.3 GB
    assert _refusal(tmp_path, config) == f"error: config file {config} is not a config: a dotted key more than 10000 levels deep"
    for text in ("[camera" + ".a" * 10001 + "]\n", "x = { " + "a." * 10001 + "b = 1 }\n", '"a".' * 10001 + "b = 1\n"):
        config.write_text(text)
        with pytest.raises(ConfigError, match="a dotted key more than 10000 levels deep"):
            load_config(config)


def test_dots_in_values_and_comments_are_no_keys(tmp_path):
    config = tmp_path / "kiosk.toml"
    config.write_text("# " + "a." * 20000 + "\n[camera]\nsource = \"" + "x/." * 100 + "mp4\"\n")
    assert load_config(config).camera.source == "x/." * 100 + "mp4"


def test_a_config_file_name_with_a_line_break_stays_on_one_line(tmp_path):
    config = tmp_path / "kiosk\nsite.toml"
    config.write_text("[kiosk]\nid = 1\n")
    line = _refusal(tmp_path, config)
    assert line.startswith(f"error: {tmp_path}/kiosk\\nsite.toml: [kiosk] id = 1: ")
