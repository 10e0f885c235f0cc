"""Crop folders written by the dataset tests: small plain images under the names a dataset uses."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def write_crops(folder: Path, names: list[str], value: int = 128) -> None:
    """``folder/<name>`` for each name (with its extension), each a slightly different size."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        image = np.full((40 + i, 30, 3), value, np.uint8)
        assert cv2.imwrite(str(folder / name), image)
