"""Door visits (``main.py evaluate --visits``): annotated faces played through the real runtime,
detector, classifier and decision engine, on a generated VOC set with known answers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kiosk import cli
from kiosk.camera.synthetic import PORTRAIT_FACE_BOX, person_behind_a_parcel
from kiosk.evaluation.voc import AnnotatedFace
from kiosk.evaluation.visits import FACE_SHARE, VIEW_SIZE, door_view
from kiosk.vision.detection.boxes import iou
from tests.helpers.voc import add_photo


def visits_json(capsys, *argv: str) -> dict:
    assert cli.main(["evaluate", "--visits", *argv, "--json", "--log-level", "WARNING"]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_door_view_frames_the_face_like_a_person_a_metre_away(portrait):
    view, box = door_view(portrait, PORTRAIT_FACE_BOX)
    assert view.shape == (VIEW_SIZE[1], VIEW_SIZE[0], 3)
    assert abs(box[2] - FACE_SHARE * VIEW_SIZE[0]) <= 1  # the face a third of the view wide
    assert abs(box[0] + box[2] / 2 - VIEW_SIZE[0] / 2) <= 1  # in the middle
    x, y, w, h = box
    face_in_view = view[y:y + h, x:x + w].astype(float)
    assert face_in_view.std() > 20  # the face itself, not the gray padding
    # a face at the photo's edge: the missing side is padded, the face is still where the box says
    view, box = door_view(portrait, (0, 0, 100, 100))
    assert (view[:box[1] - 3, :] == 90).all() and (view[:, :box[0] - 3] == 90).all()
    assert view[box[1] + 5, box[0] + 5].tolist() != [90, 90, 90]


def test_visits_give_the_known_answers_per_class(scenes, model_at_half, capsys):
    report = visits_json(capsys, str(scenes), "--model", str(model_at_half), "--photos", "all")
    assert report["min_size"] == 80 and report["detector"] == "blazeface" and report["decide_within_s"] == 2.0
    figures = report["sets"]["all"]
    masked, bare, badly = figures["with_mask"], figures["without_mask"], figures["with_incorrect_mask"]
    # the masked portrait walks in and is let in; the bare portrait is refused
    assert (masked["visits"], masked["granted"], masked["no_decision"]) == (1, 1.0, 0.0)
    assert (bare["visits"], bare["granted"]) == (2, 0.0)
    assert bare["denied"] + bare["uncertain"] == 0.5
    assert bare["no_decision"] == 0.5  # the face annotated on a blank frame: nobody to decide on
    assert (badly["visits"], badly["granted"], badly["no_decision"]) == (1, 0.0, 0.0)  # a bare face is never let in
    # a decision within decide_within_s of arriving, on the video's own clock
    for fig in (masked, bare, badly):
        assert 0.0 <= fig["seconds_to_decision"]["max"] <= 2.0
    assert figures["all_visitors"] == {"visits": 4, "no_decision": 0.25}


def test_a_visitor_whose_face_is_never_found_is_uncertain_and_counted_as_not_found(tmp_path, masked_portrait,
                                                                                    model_at_half, capsys):
    """A masked visitor whose face is hidden behind a parcel: someone is at the door, the kiosk
    denies them as uncertain in time, and the report says the face was never found."""
    add_photo(tmp_path, "masked", masked_portrait, [AnnotatedFace("with_mask", PORTRAIT_FACE_BOX)])
    add_photo(tmp_path, "parcel", person_behind_a_parcel(), [AnnotatedFace("with_mask", PORTRAIT_FACE_BOX)])
    masked = visits_json(capsys, str(tmp_path), "--model", str(model_at_half), "--photos", "all")["sets"]["all"]["with_mask"]
    assert (masked["visits"], masked["granted"], masked["uncertain"], masked["no_decision"]) == (2, 0.5, 0.5, 0.0)
    assert masked["face_not_found"] == 0.5
    assert masked["seconds_to_decision"]["max"] == pytest.approx(2.0, abs=0.11)  # the parcel: at decide_within_s
    assert cli.main(["evaluate", "--visits", str(tmp_path), "--model", str(model_at_half)]) == 0
    assert "face not found" in capsys.readouterr().out


def test_visits_text_report(scenes, model_at_half, capsys):
    assert cli.main(["evaluate", "--visits", str(scenes), "--model", str(model_at_half), "--min-size", "100"]) == 0
    out = capsys.readouterr().out
    assert "door visits: detector blazeface" in out and "faces >= 100 px" in out
    assert "== all photos: 4 door visits" in out
    assert "none of these photos is listed in the model card's held-out set" in out


def test_no_face_large_enough_is_a_one_line_error(scenes, model_at_half, capsys):
    assert cli.main(["evaluate", "--visits", str(scenes), "--model", str(model_at_half), "--min-size", "900"]) == 2
    assert "no annotated face is at least 900 px wide" in capsys.readouterr().err


def test_the_view_box_is_where_the_detector_finds_the_face(portrait):
    from kiosk.config import Config
    from kiosk.vision.detection import build_detector

    view, box = door_view(portrait, PORTRAIT_FACE_BOX)
    found = build_detector(Config().detection).detect(view)
    assert max(iou(b, box) for b in found) >= 0.5
    assert np.isfinite(view).all()
