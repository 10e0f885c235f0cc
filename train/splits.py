"""Deterministic, stratified, group-aware train/validation/test split.

Crops of one scenes photo, and variants of one original face photo, go to the same split: a
test figure measured on faces whose photo (or pasted-mask twin) was trained on would be a lie.
That holds across datasets too: crops of a photo that an earlier ``--data`` folder already holds
(the detector's own crops of the scenes photos, ``train.door_crops``) follow that photo's split.
The split depends only on file names, labels and the seed, so evaluation can recompute it.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from typing import Sequence

from train.dataset import Sample

SPLITS = ("train", "val", "test")
DEFAULT_FRACTIONS = (0.70, 0.15, 0.15)


def _stable_order(name: str, seed: int) -> str:
    """A per-seed shuffle key that does not depend on Python's hash randomisation."""
    return hashlib.sha256(f"{seed}:{name}".encode()).hexdigest()


def split_samples(samples: Sequence[Sample], seed: int, fractions: Sequence[float] = DEFAULT_FRACTIONS) -> list[str]:
    """The split name of every sample, stratified per dataset and class, whole groups at a time.

    A group is stratified by its rarest class (so the few incorrect-mask photos spread over all
    splits); groups are dealt out in a seeded order to the split furthest below its target share.
    """
    if len(fractions) != 3 or abs(sum(fractions) - 1) > 1e-6 or min(fractions) < 0:
        raise ValueError(f"split fractions must be three non-negative numbers summing to 1, got {fractions}")
    home = _home_datasets(samples)
    followers = [i for i, s in enumerate(samples) if s.photo_id and home[s.photo_id] != s.dataset]
    leaders = [i for i, s in enumerate(samples) if not (s.photo_id and home[s.photo_id] != s.dataset)]
    assignment = [""] * len(samples)
    for i, split in zip(leaders, _split_leaders([samples[i] for i in leaders], seed, fractions)):
        assignment[i] = split
    split_of_photo = {samples[i].photo_id: assignment[i] for i in leaders if samples[i].photo_id}
    for i in followers:
        assignment[i] = split_of_photo[samples[i].photo_id]
    return assignment


def _home_datasets(samples: Sequence[Sample]) -> dict[str, str]:
    """Each photo id's first dataset, in the order of the samples (the ``--data`` order)."""
    home: dict[str, str] = {}
    for sample in samples:
        if sample.photo_id:
            home.setdefault(sample.photo_id, sample.dataset)
    return home


def _split_leaders(samples: Sequence[Sample], seed: int, fractions: Sequence[float]) -> list[str]:
    """The split of samples that follow no other dataset's photo."""
    class_freq = Counter((s.dataset, s.label) for s in samples)  # per dataset: each one splits on its own
    groups: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(samples):
        groups[s.group].append(i)
    strata: dict[tuple[str, str], list[str]] = defaultdict(list)
    for group, members in groups.items():
        dataset = samples[members[0]].dataset
        rarest = min((samples[i].label for i in members), key=lambda label: (class_freq[dataset, label], label))
        strata[(dataset, rarest)].append(group)

    assignment = [""] * len(samples)
    for key in sorted(strata):
        ordered = sorted(strata[key], key=lambda g: _stable_order(g, seed))
        total = sum(len(groups[g]) for g in ordered)
        filled = [0, 0, 0]
        for group in ordered:
            deficits = [fractions[k] * total - filled[k] for k in range(3)]
            k = max(range(3), key=lambda j: (deficits[j], -j))
            filled[k] += len(groups[group])
            for i in groups[group]:
                assignment[i] = SPLITS[k]
    return assignment


def held_out_photo_ids(samples: Sequence[Sample], assignment: Sequence[str]) -> list[str]:
    """Sorted scenes photo ids whose crops are in the test split (for end-to-end evaluation)."""
    return sorted({s.photo_id for s, a in zip(samples, assignment) if a == "test" and s.photo_id})
