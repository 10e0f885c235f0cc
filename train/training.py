"""One training run: data -> split -> fit -> threshold on validation -> export -> test report -> card.

Everything a reader needs to trust the shipped model is written next to it: the spec the kiosk
must use, the split (so evaluation can recompute it), the test figures per data source, and
the exact command.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np

from kiosk.vision.model_spec import KERAS_MODEL_NAME, MODEL_CARD_NAME, TFLITE_MODEL_NAME, WITH_INCORRECT_MASK, ModelSpec
from train.dataset import (DatasetError, LoadedData, Sample, class_names, count_by, find_samples, label_indices,
                           load_inputs)
from train.hard_examples import Mining, mining_weights
from train.synthetic_masks import INCORRECT_SHARE, synthesize
from train.splits import DEFAULT_FRACTIONS, split_samples, held_out_photo_ids

log = logging.getLogger(__name__)

# Zoom range of the training augmentation, on its own knob (see train/augment.py for the measurement)
DEFAULT_ZOOM = 0.06

CURVES_PNG = "training_curves.png"
CONFUSION_PNG = "confusion_test.png"
INCORRECT_MASK_POLICY = (
    "with_incorrect_mask is a third class (trained on the scenes_crops examples) instead of being merged "
    "into without_mask or with_mask: the kiosk decides what it means through the config key "
    "decision.incorrect_mask_is ('no_mask' or 'mask'), and access still requires P(with_mask) >= "
    "spec.mask_threshold, so an incorrectly worn mask never counts as a mask unless the operator says so."
)


@dataclass
class TrainSettings:
    data: list[Path]
    out: Path
    input_size: int = 64
    crop_margin: float = 0.1
    epochs: int = 30
    batch_size: int = 64
    seed: int = 1234
    width: int = 16
    stem_stride: int = 2
    head: str = "gap"
    label_smoothing: float = 0.0  # share of each target spread over the other classes
    grayscale: bool = True  # the shipped model is grayscale (the design card); colour only as a reference twin
    mining: Mining | None = None  # weight up the training faces an earlier model got (nearly) wrong
    patience: int = 6
    augment_strength: float = 1.0
    zoom: float = DEFAULT_ZOOM
    synthetic_masks: float = 0.0  # painted-mask twins per bare training face, 0..2 (train/synthetic_masks.py)
    twin_incorrect_share: float = INCORRECT_SHARE  # of single twins, the share worn wrongly
    mask_patterns: float = 0.0  # of painted masks, the share of patterned cloth
    learning_rate: float = 2e-3
    schedule: str = "cosine"
    dataset_weights: dict[str, float] = field(default_factory=dict)
    max_false_accept: float = 0.05
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS
    threads: int = 2
    command: str = ""
    size_measurement: dict | None = None


def parse_dataset_weight(text: str) -> tuple[str, float]:
    """``NAME=WEIGHT`` from the command line, e.g. ``scenes_crops=2``."""
    name, sep, value = text.partition("=")
    try:
        weight = float(value)
    except ValueError:
        weight = -1.0
    if not sep or not name or weight <= 0:
        raise ValueError(f"expected NAME=WEIGHT with WEIGHT > 0, got {text!r}")
    return name, weight


def configure_tensorflow(threads: int, seed: int) -> None:
    """Bounded CPU use (the machine is shared) and reproducible weights/augmentation."""
    import keras
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    keras.utils.set_random_seed(seed)


def sample_weights(samples: Sequence[Sample], classes: Sequence[str], dataset_weights: dict[str, float]) -> np.ndarray:
    """Class-balancing weight x per-dataset weight, normalised to mean 1 over ``samples``.

    The class weight is the square root of the inverse class frequency: full inverse weighting
    would make each of the few incorrect-mask crops count ~10x a masked one, which destabilises
    training and skews the probabilities the threshold is chosen on.
    """
    labels = [s.label for s in samples]
    counts = {c: labels.count(c) for c in classes}
    class_weight = {c: (len(labels) / (len(classes) * n)) ** 0.5 for c, n in counts.items() if n}
    weights = np.array([class_weight[s.label] * dataset_weights.get(s.dataset, 1.0) for s in samples], np.float32)
    return weights / weights.mean()


def _epoch_logger(total_epochs: int):
    import keras

    class EpochLog(keras.callbacks.Callback):
        """One progress line per epoch: the run takes minutes and must show it is alive."""

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.monotonic()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            log.info("epoch %d/%d %.0fs loss %.4f acc %.4f val_loss %.4f val_acc %.4f lr %.2g",
                     epoch + 1, total_epochs, time.monotonic() - self._start, logs.get("loss", float("nan")),
                     logs.get("accuracy", float("nan")), logs.get("val_loss", float("nan")),
                     logs.get("val_accuracy", float("nan")), float(self.model.optimizer.learning_rate))

    return EpochLog()


def learning_rate_for(settings: TrainSettings, train_count: int):
    """Cosine decay over the whole run (with a one-epoch warm-up) by default: the validation loss
    of these small, mixed datasets is noisy, and a plateau rule halved the rate after a few bad
    epochs while the network was still learning, leaving it underfitted."""
    import keras

    if settings.schedule == "plateau":
        return settings.learning_rate
    steps_per_epoch = max(1, -(-train_count // settings.batch_size))
    return keras.optimizers.schedules.CosineDecay(
        settings.learning_rate / 10, decay_steps=steps_per_epoch * max(1, settings.epochs - 1), alpha=0.01,
        warmup_target=settings.learning_rate, warmup_steps=steps_per_epoch)


def training_loss(label_smoothing: float, spec: ModelSpec):
    """Cross-entropy on the integer labels; with ``label_smoothing`` > 0 each target keeps
    1 - smoothing and the rest is spread evenly, so the network is not pushed to certainty on
    noisy labels (a mask below the nose that an annotator called worn properly)."""
    if label_smoothing <= 0:
        return "sparse_categorical_crossentropy"
    import keras

    classes = len(spec.classes)

    def smoothed(y_true, y_pred):  # per-sample losses: Keras applies the sample weights after
        one_hot = keras.ops.one_hot(keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32"), classes)
        return keras.losses.categorical_crossentropy(one_hot, y_pred, label_smoothing=label_smoothing)

    return smoothed


def fit_model(spec: ModelSpec, settings: TrainSettings, x_train, y_train, w_train, x_val, y_val, w_val):
    """Train with augmentation, class/dataset weights and early stopping on validation loss."""
    import keras
    import tensorflow as tf

    from train.augment import augment_batch, build_augmenter
    from train.model import build_model

    augmenter = build_augmenter(spec, settings.seed, settings.augment_strength, settings.zoom)
    train_ds = (
        tf.data.Dataset.from_tensor_slices((x_train, y_train, w_train))
        .shuffle(len(x_train), seed=settings.seed, reshuffle_each_iteration=True)
        .batch(settings.batch_size)
        .map(lambda x, y, w: (augment_batch(augmenter, x, spec, 0.3 * settings.augment_strength), y, w),
             num_parallel_calls=1)
        .prefetch(2)
    )
    val_ds = tf.data.Dataset.from_tensor_slices((x_val, y_val, w_val)).batch(256)
    model = build_model(spec, width=settings.width, stem_stride=settings.stem_stride, head=settings.head)
    log.info("model: %d parameters", model.count_params())
    model.compile(optimizer=keras.optimizers.Adam(learning_rate_for(settings, len(x_train))),
                  loss=training_loss(settings.label_smoothing, spec), metrics=["accuracy"])
    callbacks = [
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=settings.patience, restore_best_weights=True),
        _epoch_logger(settings.epochs),
    ]
    if settings.schedule == "plateau":
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=3, min_lr=1e-5))
    history = model.fit(train_ds, validation_data=val_ds, epochs=settings.epochs, callbacks=callbacks, verbose=0)
    return model, {k: [float(v) for v in vals] for k, vals in history.history.items()}


def _reports_by(samples: Sequence[Sample], y_true, y_pred, classes, key: str) -> dict:
    from train.metrics import classification_report

    out = {}
    for value in sorted({getattr(s, key) for s in samples}):
        idx = np.array([getattr(s, key) == value for s in samples])
        out[value] = classification_report(y_true[idx], y_pred[idx], classes)
    return out


def split_report(samples: Sequence[Sample], probabilities: np.ndarray, classes, threshold: float) -> dict:
    """Overall, per dataset and per sub-source figures on one split."""
    from train.metrics import classification_report, decide

    y_true = label_indices(samples, classes)
    y_pred = decide(probabilities, classes, threshold)
    return {
        "all": classification_report(y_true, y_pred, classes),
        "by_dataset": _reports_by(samples, y_true, y_pred, classes, "dataset"),
        "by_source": _reports_by(samples, y_true, y_pred, classes, "source"),
    }


def portrait_check(classifier) -> dict:
    """How the model sees the bundled demo portrait, bare and with the drawn surgical mask."""
    from kiosk.vision.preprocessing import crop_face
    from kiosk.camera.synthetic import PORTRAIT_FACE_BOX, load_portrait, masked_portrait

    crops = [crop_face(img, PORTRAIT_FACE_BOX, classifier.spec.crop_margin) for img in (load_portrait(), masked_portrait())]
    out = {}
    for name, row in zip(("portrait", "masked_portrait"), classifier.predict_faces(crops)):
        label, score, p_mask = classifier.label_of(row)
        out[name] = {"label": label, "score": round(score, 4), "p_with_mask": round(p_mask, 4)}
    return out


def _install(staging: Path, out: Path, names: Sequence[str]) -> None:
    """Move finished files over the old model only at the end, so a failed run leaves it intact."""
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        os.replace(staging / name, out / name)
    shutil.rmtree(staging, ignore_errors=True)


# Imported only once configure_tensorflow has run (they load TensorFlow, LiteRT or matplotlib),
# but before the fit, so that a broken install fails in seconds and not after the training.
_LATE_MODULES = ("kiosk.vision.classifier", "train.export", "train.metrics", "train.plots")


def _import_late_modules() -> None:
    for name in _LATE_MODULES:
        importlib.import_module(name)


@dataclass
class SplitData:
    """Every readable crop decoded once, with its class index and the split it belongs to."""

    classes: tuple[str, ...]
    spec: ModelSpec  # without a mask threshold yet: that is chosen after the fit
    data: LoadedData
    y: np.ndarray  # class index of each row of data.inputs
    split_of: dict[Path, str]  # sample path -> "train" / "val" / "test"
    masks: dict[str, np.ndarray]  # split name -> which rows of data.inputs are in it
    subsets: dict[str, list[Sample]]  # split name -> its samples, in row order

    def inputs(self, name: str) -> np.ndarray:
        return self.data.inputs[self.masks[name]]

    def labels(self, name: str) -> np.ndarray:
        return self.y[self.masks[name]]


def load_and_split(all_samples: Sequence[Sample], settings: TrainSettings) -> SplitData:
    """Split every file found, readable or not, before decoding: the split then depends only on
    the folders and the seed, so ``train.evaluate`` recomputes it from the card. Fails when a
    split is left empty, since threshold and test figures need all three."""
    classes = class_names(all_samples)
    spec = ModelSpec(classes=classes, input_size=settings.input_size, grayscale=settings.grayscale,
                     crop_margin=settings.crop_margin)
    split_of = dict(zip((s.path for s in all_samples), split_samples(all_samples, settings.seed, settings.fractions)))
    log.info("found %d images in %s; classes %s", len(all_samples), ", ".join(map(str, settings.data)), list(classes))

    data = load_inputs(all_samples, spec)
    samples = data.samples
    masks = {name: np.array([split_of[s.path] == name for s in samples]) for name in ("train", "val", "test")}
    for name, idx in masks.items():
        if not idx.any():
            raise DatasetError(f"the {name} split is empty: need more images per class")
    y = label_indices(samples, classes)
    subsets = {name: [s for s, keep in zip(samples, idx) if keep] for name, idx in masks.items()}
    return SplitData(classes, spec, data, y, split_of, masks, subsets)


def training_set(split: SplitData, settings: TrainSettings) -> tuple[list[Sample], np.ndarray, np.ndarray]:
    """The train split plus the painted-mask twins of ``--synthetic-masks``. Twins go into
    training only: validation and test stay real photos, so the threshold and the reported
    figures are those of real faces."""
    samples, x, y = split.subsets["train"], split.inputs("train"), split.labels("train")
    if settings.synthetic_masks > 0:
        painted, painted_inputs = synthesize(samples, split.spec, settings.synthetic_masks, settings.seed,
                                             settings.twin_incorrect_share, settings.mask_patterns)
        samples = samples + painted
        x = np.concatenate([x, painted_inputs])
        y = np.concatenate([y, label_indices(painted, split.classes)])
    return samples, x, y


def choose_mask_threshold(model, split: SplitData, settings: TrainSettings) -> tuple[float, dict, np.ndarray]:
    """The P(with_mask) threshold, chosen on validation given one part per dataset so that the
    false-accept limit holds for each (a large dataset must not outvote the small real-photo
    one). Also returns the validation probabilities, which the card reports."""
    from train.metrics import choose_threshold

    val_parts = []
    val_probs = model.predict(split.inputs("val"), verbose=0)
    val_datasets = np.array([s.dataset for s in split.subsets["val"]])
    for dataset in sorted(set(val_datasets)):
        val_parts.append((val_probs[val_datasets == dataset], split.labels("val")[val_datasets == dataset]))
    threshold, threshold_info = choose_threshold(val_parts, split.classes, settings.max_false_accept)
    return threshold, threshold_info, val_probs


def export_model(model, spec: ModelSpec, out: Path) -> Path:
    """Export Keras and TFLite files into a fresh staging folder inside ``out``: the old model
    there is only replaced by ``_install`` once the whole run has succeeded."""
    from train.export import export_tflite, save_keras_for_inference

    staging = Path(out) / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    save_keras_for_inference(model, staging / KERAS_MODEL_NAME)
    export_tflite(model, spec, staging / TFLITE_MODEL_NAME)
    return staging


def model_card(settings: TrainSettings, split: SplitData, subsets: dict[str, list[Sample]], spec: ModelSpec,
               model, history: dict, threshold_info: dict, train_seconds: float) -> dict:
    """What the kiosk needs (the spec) and what a reader needs to trust and reproduce the model:
    the exact command, the training settings, the data and its split. ``subsets`` are the splits'
    samples as trained on (train with any painted twins)."""
    classes = split.classes
    samples = split.data.samples
    return {
        "spec": spec.to_card_section(),
        "files": {"keras": KERAS_MODEL_NAME, "tflite": TFLITE_MODEL_NAME},
        "classes": list(classes),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": settings.command,
        "incorrect_mask_policy": INCORRECT_MASK_POLICY if WITH_INCORRECT_MASK in classes else
        "no with_incorrect_mask examples in the training data",
        "crop_margin_note": "faces are cropped with the detector box widened by spec.crop_margin on every side, "
                            "matching scenes_crops (cut with a 10 % margin)",
        "input_size_measurement": settings.size_measurement
        or {"note": f"not measured in this run; input_size {settings.input_size} used"},
        "training": {
            "seed": settings.seed, "epochs_run": len(history.get("loss", [])), "max_epochs": settings.epochs,
            "batch_size": settings.batch_size, "width": settings.width, "stem_stride": settings.stem_stride, "head": settings.head,
            "label_smoothing": settings.label_smoothing, "parameters": int(model.count_params()),
            "hard_example_mining": {"model": str(settings.mining.model_dir), "factor": settings.mining.factor,
                                    "margin": settings.mining.margin} if settings.mining else None,
            "learning_rate": settings.learning_rate, "schedule": settings.schedule, "dataset_weights": settings.dataset_weights,
            "augmentation": f"zoom +-{settings.zoom:.0%}, then strength "
                            f"{settings.augment_strength} x (flip, rotation +-18 deg, shift 8 %, "
                            "brightness 25 %, contrast 35 %, blur p=0.3, down/up-scaling p=0.3)",
            "synthetic_masks": settings.synthetic_masks,
            "twin_incorrect_share": settings.twin_incorrect_share,
            "mask_patterns": settings.mask_patterns,
            "threshold_selection": {"max_false_accept": settings.max_false_accept, **threshold_info},
            "wall_seconds_fit": round(train_seconds, 1),
            "history": history,
        },
        "data": {
            "folders": [str(Path(p)) for p in settings.data],
            "split": {"seed": settings.seed, "fractions": list(settings.fractions),
                      "method": "stratified by dataset and class, grouped by scenes photo id / original face photo "
                                "(pasted-mask twins and 'copy' duplicates share a group)"},
            "skipped_unreadable": len(split.data.skipped),
            "counts": {name: count_by(subsets[name], "dataset", "label") for name in subsets},
            "scenes_test_photos": held_out_photo_ids(samples, [split.split_of[s.path] for s in samples]),
            "leakage_note": "prajnasb augmented_image_* files are rotated/zoomed variants of other prajnasb photos "
                            "that cannot be matched by name; near duplicates were removed by the dataset, the "
                            "rest may remain across splits of faces/",
        },
    }


def _write_card(card: dict, staging: Path) -> None:
    (staging / MODEL_CARD_NAME).write_text(json.dumps(card, indent=1), encoding="utf-8")


def score_and_check(card: dict, model, staging: Path, split: SplitData, val_probs: np.ndarray, threshold: float) -> None:
    """Add the validation and test figures and the export checks to ``card``. Test figures come
    from the staged TFLite model loaded by the kiosk's own loader: that proves the export is
    usable and reports what the kiosk will do, not what Keras did."""
    from kiosk.vision.classifier import MaskClassifier
    from train.export import max_abs_difference

    classes = split.classes
    classifier = MaskClassifier(staging)  # reads the card written to staging
    test_x = split.inputs("test")
    test_probs = np.concatenate([classifier.predict_batch(test_x[i:i + 64]) for i in range(0, len(test_x), 64)])
    card["validation"] = split_report(split.subsets["val"], val_probs, list(classes), threshold)  # Keras; used for tuning
    card["test"] = split_report(split.subsets["test"], test_probs, list(classes), threshold)
    card["checks"] = {
        "keras_vs_tflite_max_abs_difference": max_abs_difference(model, classifier, test_x[:64]),
        "portrait": portrait_check(classifier),
        "tflite_bytes": (staging / TFLITE_MODEL_NAME).stat().st_size,
    }


def plot_figures(card: dict, history: dict, classes: Sequence[str], staging: Path) -> None:
    """Training curves and test confusion matrices (all, then per dataset) as PNGs beside the
    model, to see at a glance whether it under- or overfitted and where it errs."""
    from train.plots import plot_confusions, plot_history

    plot_history(history, staging / CURVES_PNG)
    panels = [("test: all", card["test"]["all"]["confusion"])]
    panels += [(f"test: {k}", v["confusion"]) for k, v in card["test"]["by_dataset"].items()]
    plot_confusions(panels, classes, staging / CONFUSION_PNG)


def log_summary(card: dict, classes: Sequence[str], threshold: float, out: Path) -> None:
    """The test figures and portrait check on the console too, so a run's outcome is seen
    without opening the card."""
    from train.metrics import format_report

    log.info("test figures (TFLite, threshold %.2f):\n%s", threshold, "\n".join(
        format_report(name, rep, classes)
        for name, rep in [("all", card["test"]["all"]), *card["test"]["by_dataset"].items(), *card["test"]["by_source"].items()]))
    log.info("portrait check: %s", card["checks"]["portrait"])
    log.info("done in %.0f s; model in %s", card["training"]["wall_seconds_total"], out)


def run_training(settings: TrainSettings) -> dict:
    """Train, export and document one model in ``settings.out``; returns the model card."""
    started = time.monotonic()
    all_samples = find_samples(settings.data)  # bad folders fail fast, before TensorFlow loads
    configure_tensorflow(settings.threads, settings.seed)
    _import_late_modules()

    split = load_and_split(all_samples, settings)
    classes = split.classes
    train_samples, x_train, y_train = training_set(split, settings)
    subsets = {**split.subsets, "train": train_samples}
    weights = {name: sample_weights(subsets[name], classes, settings.dataset_weights) for name in ("train", "val")}
    if settings.mining:
        boosted = weights["train"] * mining_weights(settings.mining, x_train, y_train, classes, split.spec)
        weights["train"] = boosted / boosted.mean()
    model, history = fit_model(split.spec, settings, x_train, y_train, weights["train"],
                               split.inputs("val"), split.labels("val"), weights["val"])
    train_seconds = time.monotonic() - started

    threshold, threshold_info, val_probs = choose_mask_threshold(model, split, settings)
    spec = replace(split.spec, mask_threshold=threshold)
    log.info("mask threshold %.2f chosen on validation (%s)", threshold, threshold_info)

    staging = export_model(model, spec, settings.out)
    card = model_card(settings, split, subsets, spec, model, history, threshold_info, train_seconds)
    _write_card(card, staging)
    score_and_check(card, model, staging, split, val_probs, threshold)
    card["training"]["wall_seconds_total"] = round(time.monotonic() - started, 1)
    _write_card(card, staging)
    plot_figures(card, history, classes, staging)
    _install(staging, Path(settings.out), [KERAS_MODEL_NAME, TFLITE_MODEL_NAME, MODEL_CARD_NAME, CURVES_PNG, CONFUSION_PNG])

    log_summary(card, classes, threshold, settings.out)
    return card
