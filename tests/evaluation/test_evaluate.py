"""The end-to-end evaluation on a small generated PASCAL VOC set with known answers.

Photos are the public-domain portrait (bare and with a drawn mask) and blank frames; the
annotations are written by hand here, so every figure the evaluation prints is predictable.
The real default detector and the real committed model run on them.
"""

from __future__ import annotations

import json
import shutil

import pytest

from tests.helpers.cli import closed_pipe_run
from kiosk import cli
from kiosk.vision.model_spec import MODEL_CARD_NAME
from kiosk.evaluation.voc import AnnotatedFace, iter_scenes, parse_annotation, VocError
from tests.helpers.voc import BLANK, add_photo, write_annotation

def run_json(capsys, *argv: str) -> dict:
    assert cli.main(["evaluate", *argv, "--json", "--log-level", "WARNING"]) == 0
    return json.loads(capsys.readouterr().out)


def test_voc_round_trip(tmp_path):
    faces = [AnnotatedFace("with_mask", (10, 20, 30, 40)), AnnotatedFace("without_mask", (0, 0, 5, 6), True)]
    write_annotation(tmp_path / "a.xml", "a.jpg", (100, 80), faces)
    assert parse_annotation(tmp_path / "a.xml") == ("a.jpg", faces)


def test_broken_annotations_and_missing_images_are_skipped_with_a_warning(tmp_path, caplog):
    add_photo(tmp_path, "good", BLANK, [AnnotatedFace("with_mask", (1, 1, 50, 50))])
    (tmp_path / "annotations" / "broken.xml").write_text("<annotation><object>")
    write_annotation(tmp_path / "annotations" / "lost.xml", "lost.jpg", (10, 10), [])
    assert [s.photo_id for s in iter_scenes(tmp_path)] == ["good"]
    assert "broken.xml: not valid XML" in caplog.text
    assert "lost.xml: its image lost.jpg" in caplog.text
    with pytest.raises(VocError, match="expected the PASCAL VOC layout"):
        list(iter_scenes(tmp_path / "images"))


def test_evaluation_gives_the_known_answers(scenes, model_at_half, capsys):
    report = run_json(capsys, str(scenes), "--model", str(model_at_half))
    assert report["detector"] == "blazeface-short"  # the default detector
    everything = report["sets"]["all"]
    assert everything["photos"] == 4 and everything["faces"] == 5
    assert everything["false_detections"] == 0 and everything["precision"] == 1.0

    large = everything["by_size"]["min_60px"]
    bare = large["without_mask"]
    # the blank-frame face is missed; the portrait is found and not granted
    assert (bare["faces"], bare["detected"], bare["recall"], bare["correct_decision"]) == (2, 1, 0.5, 0.5)
    assert large["with_mask"] == {"faces": 1, "detected": 1, "recall": 1.0, "label_accuracy": 1.0,
                                  "correct_decision": 1.0}
    # the model may call it without_mask or with_incorrect_mask: either way it is not granted
    assert large["with_incorrect_mask"]["recall"] == 1.0
    assert large["with_incorrect_mask"]["correct_decision"] == 1.0

    small_included = everything["by_size"]["all_faces"]
    assert small_included["with_mask"]["faces"] == 2 and small_included["with_mask"]["recall"] == 0.5
    assert small_included["without_mask"]["faces"] == 2
    # the card's held-out list names none of these photos
    assert report["sets"]["held-out"]["photos"] == 0


def test_held_out_figures_cover_only_the_photos_the_card_lists(scenes, model_at_half, tmp_path, capsys):
    model_copy = tmp_path / "model"
    shutil.copytree(model_at_half, model_copy)
    card = json.loads((model_copy / MODEL_CARD_NAME).read_text())
    card.setdefault("data", {})["scenes_test_photos"] = ["masked"]
    (model_copy / MODEL_CARD_NAME).write_text(json.dumps(card))
    report = run_json(capsys, str(scenes), "--model", str(model_copy), "--photos", "held-out")
    assert list(report["sets"]) == ["held-out"]
    held_out = report["sets"]["held-out"]
    assert held_out["photos"] == 1 and held_out["faces"] == 1
    assert held_out["by_size"]["min_60px"]["with_mask"]["correct_decision"] == 1.0


def test_stock_detector_misses_the_masked_face(scenes, model_dir, capsys):
    report = run_json(capsys, str(scenes), "--model", str(model_dir), "--detector", "haar-stock", "--photos", "all")
    assert report["sets"]["all"]["by_size"]["min_60px"]["with_mask"]["recall"] == 0.0


def test_text_report_and_a_corrupt_photo(scenes, model_dir, tmp_path, capsys):
    folder = tmp_path / "copy"
    shutil.copytree(scenes, folder)
    (folder / "images" / "bare.jpg").write_bytes(b"not a jpeg")
    assert cli.main(["evaluate", str(folder), "--model", str(model_dir), "--min-size", "100"]) == 0
    out, err = capsys.readouterr()
    assert "== all photos: 3 photos, 4 annotated faces ==" in out
    assert "min 100px:" in out
    assert "none of these photos is listed in the model card's held-out set" in out
    assert "bare.jpg: not a picture the kiosk reads" in err  # logged on stderr, the report on stdout
    assert "decode" not in out


def test_a_folder_without_annotations_is_a_one_line_error(tmp_path, capsys):
    assert cli.main(["evaluate", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip().startswith("error: ")


def test_detection_study_prints_one_row_per_step(scenes, capsys):
    from tools import detection_study

    assert detection_study.main([str(scenes), "--steps", "stock,eyes-320,blazeface", "--repeats", "1",
                                 "--log-level", "WARNING"]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[2:]}
    assert list(rows) == ["stock", "eyes-320", "blazeface"]
    # recall of faces >= 60 px: the stock cascade misses the masked portrait, the others find it;
    # every detector finds the bare portrait and misses the face annotated on a blank frame
    assert [rows[name][-7] for name in rows] == ["0.000", "1.000", "1.000"]
    assert [rows[name][-6] for name in rows] == ["0.500", "0.500", "0.500"]
    assert detection_study.main([str(scenes), "--steps", "nope"]) == 2


def test_detection_study_end_to_end_decides_per_step_and_with_a_perfect_detector(scenes, model_at_half, capsys):
    from tools import detection_study

    assert detection_study.main([str(scenes), "--end-to-end", "--model", str(model_at_half), "--json",
                                 "--steps", "stock,eyes-320,annotated", "--log-level", "WARNING"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["step"] for row in rows] == ["stock", "eyes-320", "annotated"]
    large = {row["step"]: row["sets"]["all"]["by_size"]["min_60px"] for row in rows}
    # the stock cascade misses the masked portrait, so nobody masked is granted; the tuned Haar
    # finds and grants it; the annotated boxes find every face by construction
    assert [large[s]["with_mask"]["correct_decision"] for s in ("stock", "eyes-320", "annotated")] == [0.0, 1.0, 1.0]
    assert [large[s]["with_mask"]["recall"] for s in ("stock", "eyes-320", "annotated")] == [0.0, 1.0, 1.0]
    assert large["annotated"]["without_mask"]["recall"] == 1.0
    # detectors: the bare portrait is found and denied, the face annotated on a blank frame is missed
    assert large["eyes-320"]["without_mask"]["correct_decision"] == 0.5
    # the bare portrait annotated as badly masked is never granted
    assert large["eyes-320"]["with_incorrect_mask"]["correct_decision"] == 1.0
    assert all(row["sets"]["held-out"]["photos"] == 0 for row in rows)  # the card holds none of these out


def test_detection_study_knows_the_annotated_step_only_end_to_end(scenes, capsys):
    from tools import detection_study

    assert detection_study.main([str(scenes), "--steps", "annotated"]) == 2
    assert "unknown step(s) annotated" in capsys.readouterr().err


def test_a_tool_whose_reader_closes_the_pipe_ends_quietly(scenes):
    code, stderr = closed_pipe_run(["main.py", "evaluate", str(scenes)])
    assert code == 0, stderr
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
