"""Fixtures of the site-evaluation tests: a small generated VOC set with known answers, and the
real model at a fixed threshold."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kiosk.camera.synthetic import PORTRAIT_FACE_BOX
from kiosk.evaluation.voc import AnnotatedFace
from kiosk.vision.model_spec import MODEL_CARD_NAME
from tests.helpers.voc import BLANK, add_photo

@pytest.fixture(scope="module")
def scenes(tmp_path_factory, portrait, masked_portrait) -> Path:
    folder = tmp_path_factory.mktemp("scenes")
    add_photo(folder, "bare", portrait, [AnnotatedFace("without_mask", PORTRAIT_FACE_BOX)])
    add_photo(folder, "masked", masked_portrait, [AnnotatedFace("with_mask", PORTRAIT_FACE_BOX)])
    # annotated faces no detector can find on a plain frame: one large, one small (< 60 px)
    add_photo(folder, "blank", BLANK, [AnnotatedFace("without_mask", (100, 100, 120, 140)),
                                       AnnotatedFace("with_mask", (400, 300, 30, 36))])
    # a bare face annotated as badly masked: correct exactly when it is not granted
    add_photo(folder, "badmask", portrait, [AnnotatedFace("with_incorrect_mask", PORTRAIT_FACE_BOX)])
    return folder


@pytest.fixture(scope="module")
def model_at_half(model_dir, tmp_path_factory) -> Path:
    """The real trained model with its card's mask threshold set to 0.5.

    The known answers below test the evaluation's counting and decision rule; they must not hinge
    on where training put the threshold (the masked-portrait check against the shipped threshold
    lives in test_detection.py)."""
    folder = tmp_path_factory.mktemp("model") / "model"
    shutil.copytree(model_dir, folder)
    card = json.loads((folder / MODEL_CARD_NAME).read_text())
    card["spec"]["mask_threshold"] = 0.5
    (folder / MODEL_CARD_NAME).write_text(json.dumps(card))
    return folder
