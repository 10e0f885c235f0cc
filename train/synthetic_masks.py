"""Synthetic masks painted on bare training faces: a correctly worn one, or one below the nose.

Why: the shipped classifier separates masks from bare faces well (validation AUC ~0.98) but
confuses a correctly worn mask with one worn below the nose (AUC ~0.87), and the real photos
hold only ~150 training examples of the latter. Painting both kinds on the same bare face,
placed from that face's own BlazeFace keypoints (eyes, nose tip, mouth), gives pairs that differ
only in where the mask's upper edge sits relative to the nose: exactly the cue that decides.

The painted masks are deliberately varied (tone, width, pleats, loops, soft edges, texture) and
are *not* the kiosk's test mask (``kiosk.camera.synthetic.draw_surgical_mask``), so the tests that
classify the drawn-on portrait mask still test generalisation. They only ever join the training
split, under their own dataset name, so validation and test figures stay real photos only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Sequence

import cv2
import numpy as np

from kiosk.camera.media import MediaError, read_image
from kiosk.vision.model_spec import WITH_INCORRECT_MASK, WITH_MASK, WITHOUT_MASK, ModelSpec
from kiosk.vision.preprocessing import to_model_input
from train.dataset import Sample

log = logging.getLogger(__name__)

DATASET_NAME = "synthetic_masks"
# share of painted masks worn wrongly (below the nose, or on the chin): the rare, confused class
INCORRECT_SHARE = 0.7
CHIN_SHARE = 0.2  # of the wrongly worn ones: below the mouth, not just below the nose

# BGR tones of common masks: surgical blue/green, white, black, grey, navy, pink, beige
MASK_COLOURS = ((235, 200, 150), (200, 215, 170), (240, 240, 240), (35, 35, 35), (130, 130, 130),
                (90, 40, 20), (190, 170, 235), (170, 200, 220))
PATTERNS = ("checks", "stripes", "dots", "print")  # cloth masks: the held-out failures were patterned


def fabric_pattern(height: int, width: int, size: float, rng: np.random.Generator) -> np.ndarray:
    """Where a second colour shows (0..1, HxW) on a patterned cloth mask whose mask is ``size`` px
    wide: checks, stripes, dots or a blotchy print, a few to a dozen repeats across the mask."""
    kind = PATTERNS[rng.integers(len(PATTERNS))]
    period = max(3.0, size / rng.uniform(3, 12))
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    if kind == "checks":
        return (((xs // (period / 2)) + (ys // (period / 2))) % 2).astype(np.float32)
    if kind == "stripes":
        angle = rng.uniform(0, np.pi)
        along = xs * np.cos(angle) + ys * np.sin(angle)
        return ((along % period) < period * rng.uniform(0.3, 0.6)).astype(np.float32)
    if kind == "dots":
        dx, dy = (xs % period) - period / 2, (ys % period) - period / 2
        return (dx * dx + dy * dy < (period * rng.uniform(0.15, 0.35)) ** 2).astype(np.float32)
    blotches = rng.random((max(2, int(height / period * 2)), max(2, int(width / period * 2)))).astype(np.float32)
    return (cv2.resize(blotches, (width, height), interpolation=cv2.INTER_CUBIC) > 0.6).astype(np.float32)


@dataclass(frozen=True)
class FacePoints:
    """The keypoints a mask is placed by, in crop pixels."""

    right_eye: np.ndarray
    left_eye: np.ndarray
    nose: np.ndarray
    mouth: np.ndarray

    @classmethod
    def from_blazeface(cls, points: np.ndarray) -> "FacePoints":
        return cls(*(np.asarray(points[i], np.float32) for i in range(4)))

    def plausible(self) -> bool:
        """Eyes above nose above mouth, eyes apart: otherwise the face is too turned to paint on."""
        eye_y = (self.right_eye[1] + self.left_eye[1]) / 2
        eye_gap = abs(self.left_eye[0] - self.right_eye[0])
        return bool(eye_y < self.nose[1] < self.mouth[1] and eye_gap > 4)


def _rotate(points: np.ndarray, centre: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return (points - centre) @ np.array([[c, s], [-s, c]], np.float32) + centre


def mask_outline(face: FacePoints, worn: str, rng: np.random.Generator) -> np.ndarray:
    """Polygon (N, 2) of a mask on ``face``; ``worn`` is "correct", "below_nose" or "chin".

    Built upright in face coordinates, then turned by the eye line's roll.
    """
    eye_y = (face.right_eye[1] + face.left_eye[1]) / 2
    nose_y, mouth_y = face.nose[1], face.mouth[1]
    centre_x = (face.nose[0] + face.mouth[0]) / 2
    eye_gap = abs(face.left_eye[0] - face.right_eye[0])
    nose_to_mouth = max(mouth_y - nose_y, 2.0)
    if worn == "correct":
        top = nose_y - rng.uniform(0.3, 0.75) * (nose_y - eye_y)
    elif worn == "below_nose":
        top = nose_y + rng.uniform(0.25, 0.6) * nose_to_mouth
    else:
        top = mouth_y + rng.uniform(0.25, 0.6) * nose_to_mouth
    bottom = max(top + nose_to_mouth, mouth_y + rng.uniform(1.3, 2.2) * nose_to_mouth)
    half_top = eye_gap * rng.uniform(0.75, 1.05)
    half_bottom = half_top * rng.uniform(0.55, 0.85)
    dip = rng.uniform(-0.05, 0.12) * (bottom - top)  # the upper edge peaks over the nose or sags
    points = np.array([
        (centre_x - half_top, top + abs(dip)), (centre_x, top - dip), (centre_x + half_top, top + abs(dip)),
        (centre_x + half_top * 0.95, top + 0.55 * (bottom - top)), (centre_x + half_bottom, bottom - 0.12 * (bottom - top)),
        (centre_x, bottom), (centre_x - half_bottom, bottom - 0.12 * (bottom - top)),
        (centre_x - half_top * 0.95, top + 0.55 * (bottom - top)),
    ], np.float32)
    roll = np.arctan2(face.left_eye[1] - face.right_eye[1], face.left_eye[0] - face.right_eye[0])
    if abs(roll) > np.pi / 2:  # keypoint order mirrored: the roll is the other way round
        roll -= np.sign(roll) * np.pi
    return _rotate(points, np.array([centre_x, (top + bottom) / 2], np.float32), float(roll))


def paint_mask(image: np.ndarray, face: FacePoints, worn: str, rng: np.random.Generator,
               pattern_share: float = 0.0) -> np.ndarray:
    """A copy of BGR ``image`` with a randomly styled mask worn as ``worn``; ``pattern_share`` of
    them patterned cloth (0 draws nothing extra: earlier recipes get the same masks)."""
    height, width = image.shape[:2]
    outline = mask_outline(face, worn, rng)
    scale = 4  # sub-pixel polygon edges
    alpha = np.zeros((height, width), np.float32)
    cv2.fillPoly(alpha, [np.round(outline * scale).astype(np.int32)], 1.0, cv2.LINE_AA, shift=2)
    soften = int(rng.choice([1, 3, 5]))
    alpha = cv2.GaussianBlur(alpha, (soften, soften), 0)[..., None]

    colour = np.array(MASK_COLOURS[rng.integers(len(MASK_COLOURS))], np.float32) * rng.uniform(0.8, 1.1)
    top, bottom = float(outline[:, 1].min()), float(outline[:, 1].max())
    rows = np.clip((np.arange(height, dtype=np.float32) - top) / max(bottom - top, 1.0), 0, 1)
    shading = 1.0 + rng.uniform(-0.15, 0.15) * (rows - 0.5)  # light from above or below
    fabric = np.clip(colour[None, None, :] * shading[:, None, None] + rng.normal(0, rng.uniform(1, 8), (height, width, 1)), 0, 255)
    if pattern_share > 0 and rng.random() < pattern_share:
        second = np.array(MASK_COLOURS[rng.integers(len(MASK_COLOURS))], np.float32) * rng.uniform(0.7, 1.1)
        pattern = fabric_pattern(height, width, float(np.ptp(outline[:, 0])), rng)[..., None]
        fabric = fabric * (1 - pattern) + np.clip(second[None, None, :] * shading[:, None, None], 0, 255) * pattern
    if rng.random() < 0.5:  # pleats of a surgical mask
        for i in range(1, 4):
            y = int(top + i * (bottom - top) / 4.5)
            fabric[max(0, y - 1):y + 1] *= 0.82
    out = image.astype(np.float32) * (1 - alpha) + fabric * alpha
    if rng.random() < 0.5:  # ear loops
        loop = tuple(float(v) for v in np.clip(colour * 1.05, 0, 255))
        thickness = max(1, width // 80)
        for corner, eye in ((outline[0], face.right_eye), (outline[2], face.left_eye)):
            ear = (int(2 * eye[0] - face.nose[0]), int(eye[1]))
            cv2.line(out, tuple(int(v) for v in corner), ear, loop, thickness, cv2.LINE_AA)
    return np.clip(out, 0, 255).astype(np.uint8)


def choose_wear(rng: np.random.Generator, incorrect_share: float = INCORRECT_SHARE) -> tuple[str, str]:
    """(how the mask is worn, the class label that makes)."""
    if rng.random() >= incorrect_share:
        return "correct", WITH_MASK
    return ("chin" if rng.random() < CHIN_SHARE else "below_nose"), WITH_INCORRECT_MASK


def twin_count(rng: np.random.Generator, rate: float) -> int:
    """How many twins one bare face gets: ``rate`` on average (0..2).

    Up to 1, one twin with that chance; above 1, a second one with chance ``rate - 1``. The
    random stream for ``rate <= 1`` is the one earlier models were trained with.
    """
    if rng.random() >= rate:
        return 0
    return 2 if rate > 1 and rng.random() < rate - 1 else 1


def wears_for(rng: np.random.Generator, count: int, incorrect_share: float = INCORRECT_SHARE) -> list[tuple[str, str]]:
    """(worn, label) of each twin: a single one as ``choose_wear`` draws it; a pair is one mask
    worn correctly and one worn wrongly, so the same face differs only in the mask's height."""
    if count == 1:
        return [choose_wear(rng, incorrect_share)]
    return [choose_wear(rng, incorrect_share=0.0), choose_wear(rng, incorrect_share=1.0)]


def synthesize(bare: Sequence[Sample], spec: ModelSpec, rate: float, seed: int,
               incorrect_share: float = INCORRECT_SHARE, pattern_share: float = 0.0) -> tuple[list[Sample], np.ndarray]:
    """For each bare-face sample, ``rate`` painted twins on average (0..2; see ``twin_count``),
    as (samples, model inputs).

    Twins worn below the nose are ``with_incorrect_mask`` when the spec has that class, else
    ``without_mask`` (the kiosk's policy for such masks).

    Faces BlazeFace cannot place keypoints on (turned away, too small) are skipped and counted.
    """
    from kiosk.vision.detection.blazeface import BlazeFaceDetector

    rng = np.random.default_rng(seed)
    detector = BlazeFaceDetector()
    samples: list[Sample] = []
    inputs: list[np.ndarray] = []
    no_points = 0
    for sample in bare:
        if sample.label != WITHOUT_MASK:
            continue
        count = twin_count(rng, rate)
        if not count:
            continue
        try:
            image = read_image(sample.path)
        except MediaError:
            continue
        points = detector.face_keypoints(image)
        face = FacePoints.from_blazeface(points) if points is not None else None
        if face is None or not face.plausible():
            no_points += 1
            continue
        for worn, label in wears_for(rng, count, incorrect_share):
            if label not in spec.classes:  # data without the class: a wrongly worn mask is no mask
                label = WITHOUT_MASK
            inputs.append(to_model_input(paint_mask(image, face, worn, rng, pattern_share), spec))
            samples.append(replace(sample, label=label, dataset=DATASET_NAME, source=f"{DATASET_NAME}/{worn}"))
    log.info("painted %d synthetic masks on bare training faces (%d faces without usable keypoints skipped)",
             len(samples), no_points)
    shape = (0, spec.input_size, spec.input_size, spec.channels)
    return samples, (np.stack(inputs) if inputs else np.zeros(shape, np.float32))
