"""tools.keypoint_gate_study on a generated VOC set: keypoint measures of a frontal face, and
the table of views a gate would hold back, split by the classifier's right and wrong calls."""

from __future__ import annotations

from kiosk.camera.synthetic import PORTRAIT_FACE_BOX
from kiosk.evaluation.voc import AnnotatedFace
from kiosk.vision.detection.blazeface import BlazeFaceDetector
from tools import keypoint_gate_study
from tests.helpers.voc import BLANK, add_photo


def test_the_frontal_portrait_has_a_small_yaw_and_wide_eyes(portrait):
    face = BlazeFaceDetector().detect_faces(portrait)[0]
    yaw, eyes = keypoint_gate_study.keypoint_measures(face)
    assert yaw < 0.3 and 0.3 < eyes < 0.6


def test_the_table_counts_every_found_view_by_class_and_verdict(tmp_path, portrait, masked_portrait, capsys):
    add_photo(tmp_path, "bare", portrait, [AnnotatedFace("without_mask", PORTRAIT_FACE_BOX)])
    add_photo(tmp_path, "masked", masked_portrait, [AnnotatedFace("with_mask", PORTRAIT_FACE_BOX)])
    add_photo(tmp_path, "badly", portrait, [AnnotatedFace("with_incorrect_mask", PORTRAIT_FACE_BOX)])
    add_photo(tmp_path, "nobody", BLANK, [AnnotatedFace("with_mask", (100, 100, 120, 140))])
    assert keypoint_gate_study.main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("3 door views with the face found, 1 missed")
    # the shipped model grants the masked portrait and refuses the bare one twice (bare, "badly worn")
    assert out.splitlines()[-1].split() == ["all", "views", "(wrong", "/", "right)", "0", "/", "1", "0", "/", "1", "0", "/", "1"]
    # frontal faces: even the strictest gate holds none of them back
    strictest = [line for line in out.splitlines() if line.startswith("yaw > 0.4  or eyes < 0.25")][0]
    assert strictest.split()[-9:] == ["0", "/", "0", "0", "/", "0", "0", "/", "0"]
