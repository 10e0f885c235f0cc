"""What a trained classifier expects and means, stored next to its weights.

Training writes a ``ModelSpec`` into ``model_card.json``; the kiosk reads it back. The class
names, input size and normalisation therefore live in exactly one place: the model card of the
model being used. The defaults below are only the starting point for a new training run.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kiosk.errors import KioskError

WITH_MASK = "with_mask"
WITHOUT_MASK = "without_mask"
WITH_INCORRECT_MASK = "with_incorrect_mask"
KNOWN_CLASSES = (WITH_MASK, WITHOUT_MASK, WITH_INCORRECT_MASK)

MODEL_CARD_NAME = "model_card.json"
KERAS_MODEL_NAME = "mask_classifier.keras"
TFLITE_MODEL_NAME = "mask_classifier.tflite"
DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[2] / "models"


class ModelSpecError(KioskError, ValueError):
    """The model card is missing, unreadable or inconsistent."""


@dataclass(frozen=True)
class ModelSpec:
    """Preprocessing contract and label meaning of one trained classifier."""

    classes: tuple[str, ...] = (WITH_MASK, WITHOUT_MASK, WITH_INCORRECT_MASK)
    input_size: int = 64
    grayscale: bool = True
    # pixel -> (pixel / 255 - mean) / std ; applied after resizing
    norm_mean: float = 0.0
    norm_std: float = 1.0
    # widen a detector box by this fraction of its size on every side before cropping,
    # so kiosk crops look like the training crops (scenes_crops are widened by 10 %)
    crop_margin: float = 0.1
    # a face counts as masked when P(with_mask) >= this
    mask_threshold: float = 0.5
    extra: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if not self.classes or len(set(self.classes)) != len(self.classes):
            raise ModelSpecError(f"classes must be unique and non-empty, got {self.classes!r}")
        unknown = [c for c in self.classes if c not in KNOWN_CLASSES]
        if unknown:
            raise ModelSpecError(f"unknown class names {unknown}; known: {list(KNOWN_CLASSES)}")
        if WITH_MASK not in self.classes:
            raise ModelSpecError(f"classes must include {WITH_MASK!r}")
        if not 16 <= self.input_size <= 256:
            raise ModelSpecError(f"input_size must be 16..256, got {self.input_size}")
        if self.norm_std <= 0:
            raise ModelSpecError(f"norm_std must be > 0, got {self.norm_std}")
        if not 0.0 <= self.crop_margin <= 1.0:
            raise ModelSpecError(f"crop_margin must be 0..1, got {self.crop_margin}")
        if not 0.0 < self.mask_threshold < 1.0:
            raise ModelSpecError(f"mask_threshold must be in (0, 1), got {self.mask_threshold}")

    @property
    def channels(self) -> int:
        return 1 if self.grayscale else 3

    def to_card_section(self) -> dict:
        """The part of model_card.json that the kiosk needs to run the model."""
        data = asdict(self)
        data.pop("extra")
        data["classes"] = list(self.classes)
        return data

    @classmethod
    def from_card_section(cls, data: dict) -> "ModelSpec":
        try:
            return cls(
                classes=tuple(data["classes"]),
                input_size=int(data["input_size"]),
                grayscale=bool(data["grayscale"]),
                norm_mean=float(data.get("norm_mean", 0.0)),
                norm_std=float(data.get("norm_std", 1.0)),
                crop_margin=float(data.get("crop_margin", 0.1)),
                mask_threshold=float(data.get("mask_threshold", 0.5)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ModelSpecError):
                raise
            raise ModelSpecError(f"model card 'spec' section is incomplete or malformed: {exc}") from None


def read_model_card(model_dir: Path) -> dict:
    """Load model_card.json from a model directory, as a dict."""
    path = Path(model_dir) / MODEL_CARD_NAME
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelSpecError(f"no model card at {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelSpecError(f"cannot read model card {path}: {exc}") from None
    if not isinstance(card, dict) or not isinstance(card.get("spec"), dict):
        raise ModelSpecError(f"model card {path} has no 'spec' section")
    return card


def tflite_path(model_dir: Path, card: dict) -> Path:
    """The TFLite file a card names (``files.tflite``, default ``mask_classifier.tflite``): the
    one rule the kiosk's loader and the config check both follow."""
    files = card.get("files", {})
    name = files.get("tflite", TFLITE_MODEL_NAME) if isinstance(files, dict) else None
    if not isinstance(name, str) or not name:
        raise ModelSpecError(f"model card {Path(model_dir) / MODEL_CARD_NAME} has a malformed 'files' section")
    return Path(model_dir) / name


def load_model_spec(model_dir: Path) -> ModelSpec:
    return ModelSpec.from_card_section(read_model_card(model_dir)["spec"])
