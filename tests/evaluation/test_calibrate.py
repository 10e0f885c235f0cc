"""Per-site calibration (``main.py calibrate``) on generated site photos, with the real model."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from kiosk import cli
from kiosk.camera.synthetic import PORTRAIT_FACE_BOX, place_on_canvas
from kiosk.config import load_config
from kiosk.evaluation.calibration import MIN_FACES_PER_SIDE, ScoredFace, choose_threshold
from kiosk.evaluation.voc import AnnotatedFace
from kiosk.vision.pipeline import build_analyzer
from tests.helpers.voc import add_photo

CONFIG_TEXT = '# the front door\n[kiosk]\nid = "front-door"\n\n[decision]\nhold_s = 2.5  # keep\n'


@pytest.fixture(scope="module")
def site(tmp_path_factory, portrait, masked_portrait) -> Path:
    """20 masked and 20 bare visitors, each placed a little differently in its photo."""
    folder = tmp_path_factory.mktemp("site")
    for i in range(MIN_FACES_PER_SIDE):
        for label, image in (("with_mask", masked_portrait), ("without_mask", portrait)):
            scale = 0.45 + 0.01 * i
            frame, used, (x0, y0) = place_on_canvas(image, scale=scale, offset=(8 * (i % 5) - 16, 6 * (i % 4) - 9))
            x, y, w, h = PORTRAIT_FACE_BOX
            box = (int(x0 + x * used), int(y0 + y * used), int(w * used), int(h * used))
            add_photo(folder, f"{label}_{i:02d}", frame, [AnnotatedFace(label, box)])
    return folder


def calibrate(capsys, *argv: str) -> dict:
    assert cli.main(["calibrate", *argv, "--json", "--log-level", "WARNING"]) == 0
    return json.loads(capsys.readouterr().out)


def test_calibration_writes_a_threshold_that_refuses_every_bare_face(site, model_dir, tmp_path, capsys):
    config = tmp_path / "kiosk.toml"
    config.write_text(CONFIG_TEXT, encoding="utf-8")
    report = calibrate(capsys, str(site), "--config", str(config), "--model", str(model_dir),
                       "--max-false-accept", "0.0")
    threshold = report["threshold"]
    assert report["faces"] == 2 * MIN_FACES_PER_SIDE and report["not_detected"] == 0
    at_choice = next(row for row in report["tradeoff"] if row["threshold"] == threshold)
    # the real classifier separates the masked portrait from the bare one: all in, none in
    assert at_choice["bare_granted"] == 0.0 and at_choice["false_accept"] == 0.0
    assert at_choice["masked_granted"] == 1.0
    # written as the site's override, every other line kept; the model card is untouched
    text = config.read_text(encoding="utf-8")
    assert text.startswith("# the front door\n") and "hold_s = 2.5  # keep" in text
    assert tomllib.loads(text)["decision"]["mask_threshold"] == threshold
    assert json.loads((model_dir / "model_card.json").read_text())["spec"]["mask_threshold"] == report["card_threshold"]
    # and the kiosk uses it
    assert build_analyzer(load_config(config)).classifier.mask_threshold == threshold


def test_dry_run_prints_the_table_and_writes_nothing(site, model_dir, tmp_path, capsys):
    config = tmp_path / "kiosk.toml"
    config.write_text(CONFIG_TEXT, encoding="utf-8")
    assert cli.main(["calibrate", str(site), "--config", str(config), "--model", str(model_dir), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "threshold masked granted bare granted badly worn granted false accept" in " ".join(out.split())
    assert "<- chosen" in out and "not written (--dry-run)" in out
    assert config.read_text(encoding="utf-8") == CONFIG_TEXT


def test_too_few_labelled_faces_is_a_clear_error(scenes, model_dir, tmp_path, capsys):
    config = tmp_path / "kiosk.toml"
    config.write_text(CONFIG_TEXT, encoding="utf-8")
    assert cli.main(["calibrate", str(scenes), "--config", str(config), "--model", str(model_dir)]) == 2
    err = capsys.readouterr().err
    assert "too few labelled faces to calibrate" in err and "at least 20 of each" in err
    assert config.read_text(encoding="utf-8") == CONFIG_TEXT


def faces(masked: list[float], others: list[float]) -> list[ScoredFace]:
    return [ScoredFace("with_mask", p) for p in masked] + [ScoredFace("without_mask", p) for p in others]


def test_the_threshold_is_the_lowest_that_holds_the_false_accept_rate():
    negatives = [i / 100 for i in range(100)]  # 0.00 .. 0.99
    masked = [0.99] * 20
    assert choose_threshold(faces(masked, negatives), 0.0, "no_mask") == pytest.approx(0.99 + 1e-4)  # above every bare face
    assert choose_threshold(faces(masked, negatives), 0.01, "no_mask") == pytest.approx(0.98 + 1e-4)  # one may pass
    assert choose_threshold(faces(masked, negatives), 0.05, "no_mask") == pytest.approx(0.94 + 1e-4)
    # badly worn masks count as refusals unless the site counts them as masks
    badly = [ScoredFace("with_incorrect_mask", 0.97)] * 30
    assert choose_threshold(faces(masked, negatives) + badly, 0.0, "no_mask") == pytest.approx(0.99 + 1e-4)
    assert choose_threshold(faces(masked + [0.97] * 30, negatives) + badly, 0.0, "mask") == pytest.approx(0.99 + 1e-4)
