"""The one analysis pipeline with the real detector and the real trained model."""

from __future__ import annotations

import numpy as np
import pytest

from kiosk.vision.classifier import MaskClassifier
from kiosk.config import Config, with_overrides
from kiosk.vision.model_spec import WITH_MASK
from kiosk.vision.pipeline import FrameAnalyzer, build_analyzer
from kiosk.vision.detection import build_detector
from kiosk.camera.synthetic import PORTRAIT_FACE_BOX, place_on_canvas


class CountingClassifier(MaskClassifier):
    """The real classifier, remembering how often and with how many crops it was called."""

    def __init__(self, model_dir) -> None:
        super().__init__(model_dir)
        self.calls: list[int] = []

    def predict_faces(self, faces):
        self.calls.append(len(faces))
        return super().predict_faces(faces)


@pytest.fixture(scope="module")
def cfg(model_dir) -> Config:
    return with_overrides(Config(), {"model.dir": str(model_dir)})


@pytest.fixture(scope="module")
def analyzer(cfg) -> FrameAnalyzer:
    return build_analyzer(cfg)


def placed_face_box(scale: float, corner: tuple[int, int]) -> tuple[float, float, float, float]:
    x, y, w, h = PORTRAIT_FACE_BOX
    return corner[0] + x * scale, corner[1] + y * scale, w * scale, h * scale


def test_unmasked_portrait_is_one_face_not_wearing_a_mask_where_it_was_placed(analyzer, portrait):
    frame, scale, corner = place_on_canvas(portrait, (640, 480), 0.7, (60, 10))
    results = analyzer.analyze(frame)
    assert len(results) == 1
    face = results[0]
    assert face.label != WITH_MASK
    assert face.mask_probability < 0.5
    x, y, w, h = face.box
    ex, ey, ew, eh = placed_face_box(scale, corner)
    assert abs((x + w / 2) - (ex + ew / 2)) < 0.25 * ew
    assert abs((y + h / 2) - (ey + eh / 2)) < 0.25 * eh
    assert 0.6 < w / ew < 1.5


def test_the_drawn_mask_raises_the_mask_probability_far_above_the_bare_face(analyzer, portrait, masked_portrait):
    """Given the same known box, the masked face reads as a mask and the bare one clearly not."""
    probabilities = {}
    for name, image in (("bare", portrait), ("masked", masked_portrait)):
        frame, scale, corner = place_on_canvas(image, (640, 480), 0.7)
        box = tuple(int(round(v)) for v in placed_face_box(scale, corner))
        (result,) = analyzer.classify_boxes(frame, [box])
        assert result.box == box
        probabilities[name] = result.mask_probability
    assert probabilities["masked"] > 0.5
    assert probabilities["bare"] < 0.2


def test_blank_frame_has_no_faces(analyzer):
    assert analyzer.analyze(np.full((480, 640, 3), 120, np.uint8)) == []


def test_malformed_frame_is_refused(analyzer):
    with pytest.raises(ValueError):
        analyzer.analyze(np.zeros((0, 0, 3), np.uint8))


def test_two_faces_are_classified_in_one_call(cfg, portrait):
    classifier = CountingClassifier(cfg.resolve_path(cfg.model.dir))
    analyzer = FrameAnalyzer(build_detector(cfg.detection), classifier)
    frame = np.full((480, 640, 3), 90, np.uint8)
    for dx in (-150, 150):
        placed, _, (x0, y0) = place_on_canvas(portrait, (640, 480), 0.5, (dx, 0))
        frame[y0 : y0 + 300, x0 : x0 + 256] = placed[y0 : y0 + 300, x0 : x0 + 256]  # the 256x300 portrait
    results = analyzer.analyze(frame)
    assert len(results) == 2
    assert classifier.calls == [2]
    left, right = sorted(r.box[0] for r in results)
    assert left < 320 < right
    analyzer.analyze(np.full((480, 640, 3), 90, np.uint8))
    assert classifier.calls == [2]  # no faces: the model is not called at all
