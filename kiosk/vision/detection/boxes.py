"""Box geometry shared by the detectors and the evaluation: overlap, suppression, matching."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from kiosk.vision.preprocessing import Box


def intersection(a: Box, b: Box) -> int:
    """Area two (x, y, w, h) boxes share."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = min(ax + aw, bx + bw) - max(ax, bx)
    ih = min(ay + ah, by + bh) - max(ay, by)
    return iw * ih if iw > 0 and ih > 0 else 0


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    inter = intersection(a, b)
    return inter / float(a[2] * a[3] + b[2] * b[3] - inter) if inter else 0.0


def overlap_of_smaller(a: Box, b: Box) -> float:
    """How much of the smaller box lies inside the other (1.0 = fully nested)."""
    inter = intersection(a, b)
    return inter / float(min(a[2] * a[3], b[2] * b[3])) if inter else 0.0


def non_max_suppression(boxes: Sequence[Box], scores: Sequence[float], iou_threshold: float = 0.3,
                        nested_threshold: float = 0.8) -> list[int]:
    """Indices of the boxes to keep, best score first.

    A box is dropped when it overlaps a better one by ``iou_threshold`` or lies mostly inside it
    (``nested_threshold``): cascades often report a face and a smaller box on the same face.
    """
    order = sorted(range(len(boxes)), key=lambda i: scores[i], reverse=True)
    kept: list[int] = []
    for i in order:
        if all(iou(boxes[i], boxes[k]) < iou_threshold and overlap_of_smaller(boxes[i], boxes[k]) < nested_threshold
               for k in kept):
            kept.append(i)
    return kept


def match_boxes(truth: Sequence[Box], found: Sequence[Box], min_iou: float = 0.3) -> dict[int, int]:
    """Greedy one-to-one matching {truth index: found index}, highest IoU pairs first."""
    pairs = sorted(
        ((iou(t, f), ti, fi) for ti, t in enumerate(truth) for fi, f in enumerate(found)),
        reverse=True,
    )
    matched: dict[int, int] = {}
    used: set[int] = set()
    for overlap, ti, fi in pairs:
        if overlap < min_iou:
            break
        if ti in matched or fi in used:
            continue
        matched[ti] = fi
        used.add(fi)
    return matched


@dataclass(frozen=True)
class BoxFit:
    """Moves a detector's box onto the face the way the annotated training boxes sit on it.

    Each detector frames a face its own way (a Haar box is square and about 30 % wider than an
    annotated face box), and the classifier learnt from crops of annotated boxes. Measured per
    detector by ``python -m tools.box_fit_study`` as medians over matched faces.
    """

    width: float = 1.0  # annotated width / detector width
    height: float = 1.0  # annotated height / detector height
    shift_y: float = 0.0  # annotated centre minus detector centre, in detector heights (down > 0)

    def apply(self, box: Box) -> Box:
        x, y, w, h = box
        cx, cy = x + w / 2.0, y + h / 2.0 + self.shift_y * h
        new_w, new_h = w * self.width, h * self.height
        return int(round(cx - new_w / 2.0)), int(round(cy - new_h / 2.0)), int(round(new_w)), int(round(new_h))
