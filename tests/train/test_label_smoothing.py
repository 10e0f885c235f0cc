"""The label-smoothing loss: per-sample values as the formula says, so sample weights still apply."""

from __future__ import annotations

import numpy as np
import pytest

from kiosk.vision.model_spec import ModelSpec
from train.training import training_loss

SPEC = ModelSpec(classes=("with_mask", "without_mask", "with_incorrect_mask"), input_size=48, grayscale=True,
                 norm_mean=0.0, norm_std=1.0, crop_margin=0.1, mask_threshold=0.5)


def test_smoothed_loss_is_per_sample_cross_entropy_against_smoothed_targets():
    pytest.importorskip("keras")
    y_true = np.array([0, 2], np.int32)
    y_pred = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]], np.float32)
    loss = np.asarray(training_loss(0.3, SPEC)(y_true, y_pred))
    targets = np.full((2, 3), 0.1)  # 0.3 spread over 3 classes
    targets[0, 0] = targets[1, 2] = 0.8
    expected = -(targets * np.log(y_pred)).sum(axis=1)
    assert loss.shape == (2,)
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    assert training_loss(0.0, SPEC) == "sparse_categorical_crossentropy"
