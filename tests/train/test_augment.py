"""The training augmentation's blur: the exact 5x5 binomial filter, computed without a convolution."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from kiosk.vision.model_spec import ModelSpec
from train.augment import augment_batch, binomial_blur, build_augmenter, value_range


def test_blur_of_a_single_bright_pixel_is_the_binomial_kernel():
    image = np.zeros((1, 11, 11, 1), np.float32)
    image[0, 5, 5, 0] = 1.0
    taps = np.array([1, 4, 6, 4, 1], np.float32) / 16
    out = binomial_blur(tf.constant(image)).numpy()[0, :, :, 0]
    assert out.shape == (11, 11)
    np.testing.assert_allclose(out[3:8, 3:8], np.outer(taps, taps), atol=1e-7)
    assert out.sum() == pytest.approx(1.0, abs=1e-6)  # nothing lost, nothing spread further


def test_blur_pads_with_zeros_like_a_same_convolution():
    ones = tf.ones((2, 8, 8, 1))
    out = binomial_blur(ones).numpy()
    assert out[0, 4, 4, 0] == pytest.approx(1.0)
    assert out[1, 0, 0, 0] == pytest.approx((11 / 16) ** 2)  # taps 6+4+1 of 16 fall inside, per axis


def test_augmented_batches_keep_shape_and_value_range():
    spec = ModelSpec(classes=("with_mask", "without_mask"), input_size=32)
    low, high = value_range(spec)
    images = tf.constant(np.random.default_rng(0).uniform(low, high, (16, 32, 32, 1)).astype(np.float32))
    out = augment_batch(build_augmenter(spec, 1, 1.0, 0.06), images, spec, degrade_probability=1.0).numpy()
    assert out.shape == (16, 32, 32, 1)
    assert out.min() >= low - 1e-6 and out.max() <= high + 1e-6
    assert not np.allclose(out, images.numpy())
