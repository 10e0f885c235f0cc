"""Hard-example mining: weight up the training faces an earlier model got wrong or nearly wrong.

Why: the faces that decide the door's error rates are few (a badly worn mask that looks worn,
a pale mask on a pale face), and a run that weights every face alike spends most of its updates
on faces it already judges right. An earlier model (``--mine-with MODEL_DIR``, usually the
shipped one, trained on the same split) scores every training face with its own threshold, and a
face on the wrong side of it, or within ``margin`` of it, counts ``factor`` times. Only training
faces are mined: validation and test stay as they are, so the threshold and the reported figures
are not tilted towards them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from kiosk.vision.model_spec import WITH_MASK, ModelSpec

log = logging.getLogger(__name__)

DEFAULT_MARGIN = 0.1  # of P(with_mask) around the mining model's threshold


@dataclass(frozen=True)
class Mining:
    """Which earlier model mines, and how much a hard face counts."""

    model_dir: Path
    factor: float = 3.0
    margin: float = DEFAULT_MARGIN


def hard_mask(mask_probability: np.ndarray, is_masked: np.ndarray, threshold: float, margin: float) -> np.ndarray:
    """Faces on the wrong side of ``threshold`` or within ``margin`` of it, as an access decision."""
    signed = np.where(is_masked, mask_probability - threshold, threshold - mask_probability)
    return signed < margin


def mining_weights(mining: Mining, inputs: np.ndarray, labels: np.ndarray, classes: Sequence[str],
                   spec: ModelSpec) -> np.ndarray:
    """A weight multiplier per training face: ``mining.factor`` for hard faces, else 1."""
    from kiosk.vision.classifier import MaskClassifier
    from train.dataset import DatasetError

    miner = MaskClassifier(mining.model_dir)
    if (miner.spec.input_size, miner.spec.channels) != (spec.input_size, spec.channels):
        raise DatasetError(f"the mining model in {mining.model_dir} takes {miner.spec.input_size} px with "
                           f"{miner.spec.channels} channel(s), this run {spec.input_size} px with {spec.channels}")
    if tuple(miner.spec.classes) != tuple(classes):
        raise DatasetError(f"the mining model's classes {list(miner.spec.classes)} differ from this run's {list(classes)}")
    probabilities = np.concatenate([miner.predict_batch(inputs[i:i + 256]) for i in range(0, len(inputs), 256)])
    is_masked = labels == list(classes).index(WITH_MASK)
    hard = hard_mask(probabilities[:, miner.mask_index], is_masked, miner.mask_threshold, mining.margin)
    for index, name in enumerate(classes):
        mine = labels == index
        log.info("hard examples: %s %d of %d (x%g)", name, int(hard[mine].sum()), int(mine.sum()), mining.factor)
    return np.where(hard, mining.factor, 1.0).astype(np.float32)
