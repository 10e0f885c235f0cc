"""Mask classifier at the door: the TFLite export run by the LiteRT interpreter.

The kiosk never imports TensorFlow: LiteRT loads in ~0.2 s and ~80 MB, where TensorFlow costs
~3.5 s and ~600 MB, and a TFLite call is ~100x faster than ``model.predict`` for a tiny CNN.
All faces of a frame are classified in one interpreter call.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from kiosk.errors import KioskError
from kiosk.logging_setup import native_output_to_log
from kiosk.vision.model_spec import (
    DEFAULT_MODEL_DIR,
    tflite_path,
    WITH_MASK,
    ModelSpec,
    ModelSpecError,
    read_model_card,
)
from kiosk.vision.preprocessing import prepare_batch

log = logging.getLogger(__name__)


class ModelLoadError(KioskError, RuntimeError):
    """The model files are missing, corrupt or do not match their model card."""


def _make_interpreter(model_path: Path):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover - fallback for machines with TensorFlow only
        from tensorflow.lite import Interpreter  # type: ignore[no-redef]
    with native_output_to_log("LiteRT"):  # "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
        interpreter = Interpreter(model_path=str(model_path), num_threads=1)
        interpreter.allocate_tensors()
    return interpreter


class MaskClassifier:
    """Classifies face crops as the model card's classes, in one batched call per frame."""

    def __init__(self, model_dir: Path = DEFAULT_MODEL_DIR, mask_threshold: Optional[float] = None) -> None:
        """``mask_threshold`` overrides the card's (a site calibrated with ``main.py calibrate``)."""
        model_dir = Path(model_dir)
        try:
            self.card = read_model_card(model_dir)
            self.spec = ModelSpec.from_card_section(self.card["spec"])
            self.model_path = tflite_path(model_dir, self.card)
        except ModelSpecError as exc:
            raise ModelLoadError(str(exc)) from None
        if not self.model_path.is_file():
            raise ModelLoadError(f"model file {self.model_path} is missing")
        try:
            self._interpreter = _make_interpreter(self.model_path)
        except (ValueError, RuntimeError) as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelLoadError(f"model file {self.model_path} is not a valid TFLite model: {first_line}") from None
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        expected = (self.spec.input_size, self.spec.input_size, self.spec.channels)
        if tuple(self._input["shape"][1:]) != expected:
            raise ModelLoadError(
                f"model input shape {tuple(self._input['shape'][1:])} does not match its card {expected}"
            )
        if int(self._output["shape"][-1]) != len(self.spec.classes):
            raise ModelLoadError(
                f"model has {int(self._output['shape'][-1])} outputs but its card names {len(self.spec.classes)} classes"
            )
        self._batch_size = int(self._input["shape"][0])
        self._lock = threading.Lock()  # one interpreter is not safe to call from two threads at once
        self.mask_index = self.spec.classes.index(WITH_MASK)
        self.mask_threshold = self.spec.mask_threshold if mask_threshold is None else float(mask_threshold)
        log.info("loaded model %s (%s, %dpx)", self.model_path.name, "/".join(self.spec.classes), self.spec.input_size)

    @property
    def name(self) -> str:
        return f"{self.model_path.name} ({self.card.get('date', 'undated')})"

    def predict_batch(self, batch: np.ndarray) -> np.ndarray:
        """Class probabilities (N, classes) for a prepared batch (N, size, size, channels)."""
        if len(batch) == 0:
            return np.zeros((0, len(self.spec.classes)), np.float32)
        with self._lock:
            if len(batch) != self._batch_size:
                self._interpreter.resize_tensor_input(self._input["index"], list(batch.shape), strict=False)
                self._interpreter.allocate_tensors()
                self._batch_size = len(batch)
            self._interpreter.set_tensor(self._input["index"], batch.astype(np.float32, copy=False))
            self._interpreter.invoke()
            return np.array(self._interpreter.get_tensor(self._output["index"]), copy=True)

    def predict_faces(self, faces: Sequence[np.ndarray]) -> np.ndarray:
        """Class probabilities for face crops (BGR or grayscale uint8), one call for all."""
        return self.predict_batch(prepare_batch(faces, self.spec))

    def label_of(self, probabilities: np.ndarray) -> tuple[str, float, float]:
        """(label, confidence of that label, P(with_mask)) for one row of probabilities.

        The label is ``with_mask`` exactly when P(with_mask) reaches the threshold (the card's,
        or the site's override);
        otherwise the most likely of the other classes.
        """
        mask_p = float(probabilities[self.mask_index])
        if mask_p >= self.mask_threshold:
            return WITH_MASK, mask_p, mask_p
        others = [i for i in range(len(self.spec.classes)) if i != self.mask_index]
        best = max(others, key=lambda i: probabilities[i])
        return self.spec.classes[best], float(probabilities[best]), mask_p
