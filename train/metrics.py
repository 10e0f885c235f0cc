"""Classification figures used by training reports and ``train.evaluate``.

Two views: the 3-class view (per-class precision/recall/F1, confusion matrix, balanced accuracy)
and the door's access view (mask vs not-mask at the card's threshold), whose key risk figure is
the false-accept rate: a face without a correctly worn mask that would be let in.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from kiosk.vision.model_spec import WITH_MASK


def decide(probabilities: np.ndarray, classes: Sequence[str], threshold: float) -> np.ndarray:
    """Predicted class index per row, by the kiosk's rule (``MaskClassifier.label_of``):
    with_mask when P(with_mask) >= threshold, else the most likely other class."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    mask = list(classes).index(WITH_MASK)
    others = probabilities.copy()
    others[:, mask] = -1.0
    return np.where(probabilities[:, mask] >= threshold, mask, others.argmax(axis=1))


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Rows = true class, columns = predicted class."""
    matrix = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(matrix, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return matrix


def _ratio(num: float, den: float) -> float | None:
    return float(num / den) if den else None


def classification_report(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str]) -> dict:
    """Per-class precision/recall/F1/support, accuracy, balanced accuracy and access figures."""
    y_true, y_pred = np.asarray(y_true, int), np.asarray(y_pred, int)
    matrix = confusion(y_true, y_pred, len(classes))
    per_class = {}
    recalls = []
    for k, name in enumerate(classes):
        tp, support, predicted = matrix[k, k], matrix[k].sum(), matrix[:, k].sum()
        precision, recall = _ratio(tp, predicted), _ratio(tp, support)
        f1 = _ratio(2 * precision * recall, precision + recall) if precision and recall else (0.0 if support else None)
        per_class[name] = {"precision": precision, "recall": recall, "f1": f1, "support": int(support)}
        if support:
            recalls.append(recall)
    mask = list(classes).index(WITH_MASK)
    is_mask, said_mask = y_true == mask, y_pred == mask
    far = _ratio(np.sum(~is_mask & said_mask), np.sum(~is_mask))
    frr = _ratio(np.sum(is_mask & ~said_mask), np.sum(is_mask))
    access_parts = [1 - r for r in (far, frr) if r is not None]
    return {
        "n": int(len(y_true)),
        "accuracy": _ratio(np.sum(y_true == y_pred), len(y_true)),
        "balanced_accuracy": float(np.mean(recalls)) if recalls else None,
        "per_class": per_class,
        "confusion": matrix.tolist(),
        "access": {
            "false_accept_rate": far,  # not-mask faces (none or incorrect) classified as with_mask
            "false_reject_rate": frr,  # masked faces refused
            "balanced_accuracy": float(np.mean(access_parts)) if access_parts else None,
            "not_mask_faces": int(np.sum(~is_mask)),
            "mask_faces": int(np.sum(is_mask)),
        },
    }


def _fmt(value: float | None) -> str:
    return "  -  " if value is None else f"{value:.3f}"


def format_report(title: str, report: dict, classes: Sequence[str]) -> str:
    """A readable text block of one report."""
    access = report["access"]
    lines = [
        f"== {title}: {report['n']} faces",
        f"   3-class: accuracy {_fmt(report['accuracy'])}  balanced accuracy {_fmt(report['balanced_accuracy'])}",
        f"   access (mask vs not): balanced accuracy {_fmt(access['balanced_accuracy'])}  "
        f"false accept {_fmt(access['false_accept_rate'])} of {access['not_mask_faces']}  "
        f"false reject {_fmt(access['false_reject_rate'])} of {access['mask_faces']}",
        f"   {'class':<20} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8}",
    ]
    for name in classes:
        row = report["per_class"][name]
        lines.append(f"   {name:<20} {_fmt(row['precision']):>9} {_fmt(row['recall']):>7} {_fmt(row['f1']):>6} {row['support']:>8}")
    width = max(len(c) for c in classes)
    lines.append(f"   confusion (rows true, cols predicted): {' | '.join(classes)}")
    for name, row in zip(classes, report["confusion"]):
        lines.append(f"   {name:>{width}} " + " ".join(f"{v:>6}" for v in row))
    return "\n".join(lines)


def choose_threshold(parts: Sequence[tuple[np.ndarray, np.ndarray]], classes: Sequence[str],
                     max_false_accept: float = 0.01) -> tuple[float, dict]:
    """The P(with_mask) threshold, chosen on validation data given as (probabilities, y_true)
    parts (one per dataset, so the small real-photo set is not outvoted by the big one).

    Picks the best mean access balanced accuracy among thresholds keeping every part's
    false-accept rate <= ``max_false_accept``; the lowest worst-part FAR when none does.
    Never below 0.5, so a with_mask decision is always at least a majority decision.
    """
    mask = list(classes).index(WITH_MASK)
    best: tuple | None = None
    for t in np.round(np.arange(0.50, 0.991, 0.01), 2):
        fars, frrs = [], []
        for probabilities, y_true in parts:
            p_mask, is_mask = np.asarray(probabilities)[:, mask], np.asarray(y_true) == mask
            fars.append(float(np.mean(p_mask[~is_mask] >= t)) if (~is_mask).any() else 0.0)
            frrs.append(float(np.mean(p_mask[is_mask] < t)) if is_mask.any() else 0.0)
        worst_far = max(fars)
        balanced = float(np.mean([1 - (a + r) / 2 for a, r in zip(fars, frrs)]))
        ok = worst_far <= max_false_accept
        key = (ok, 0.0 if ok else -worst_far, balanced, -t)
        if best is None or key > best[0]:
            best = (key, float(t), {"worst_false_accept_rate": worst_far, "false_accept_rates": fars,
                                    "false_reject_rates": frrs, "mean_access_balanced_accuracy": balanced})
    return best[1], best[2]
