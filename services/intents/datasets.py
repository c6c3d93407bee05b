"""The public intent datasets in the shared data folder, as train / validation / test splits.

CLINC150 (Larson et al. 2019) ships its own validation split and out-of-scope queries.
BANKING77 (Casanueva et al. 2020) has neither: its validation split is a deterministic,
stratified hold-out of the training set, and it has no out-of-scope queries.
"""

from __future__ import annotations

import csv
import json
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from services.intents.packs import OUT_OF_SCOPE

DATASETS = ("clinc150", "banking77")
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[3] / "shared" / "data"
# Fraction of each BANKING77 intent held out of train for validation, and the seed that picks it.
BANKING77_VALIDATION_FRACTION = 0.15
BANKING77_SEED = 77


class DatasetError(ValueError):
    """A dataset is missing or malformed."""


@dataclass(frozen=True)
class Split:
    """Labelled utterances; out-of-scope ones carry the label ``out_of_scope``."""

    texts: list[str]
    labels: list[str]

    def __len__(self) -> int:
        return len(self.texts)

    def head(self, limit: int | None) -> Split:
        """A deterministic random sample of ``limit`` items in their original order (None: all)."""
        if limit is None or limit >= len(self.texts):
            return self
        order = random.Random(0).sample(range(len(self.texts)), len(self.texts))
        keep = sorted(order[:limit])
        return Split([self.texts[i] for i in keep], [self.labels[i] for i in keep])


@dataclass(frozen=True)
class Dataset:
    name: str
    train: Split
    validation: Split
    test: Split

    @property
    def has_out_of_scope(self) -> bool:
        return OUT_OF_SCOPE in self.test.labels


def _pairs(rows: Sequence[Sequence[str]], oos: bool) -> Split:
    return Split(
        [str(row[0]) for row in rows],
        [OUT_OF_SCOPE if oos else str(row[1]) for row in rows],
    )


def _join(a: Split, b: Split) -> Split:
    return Split(a.texts + b.texts, a.labels + b.labels)


def load_clinc150(data_dir: Path, variant: str = "full") -> Dataset:
    """CLINC150 ``data_<variant>.json``: in-scope plus out-of-scope queries in every split."""
    path = data_dir / "clinc150" / f"data_{variant}.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read CLINC150: {exc}") from exc
    try:
        return Dataset(
            name="clinc150",
            train=_join(_pairs(raw["train"], False), _pairs(raw["oos_train"], True)),
            validation=_join(_pairs(raw["val"], False), _pairs(raw["oos_val"], True)),
            test=_join(_pairs(raw["test"], False), _pairs(raw["oos_test"], True)),
        )
    except (KeyError, IndexError, TypeError) as exc:
        raise DatasetError(f"{path}: unexpected CLINC150 layout: {exc!r}") from exc


def _read_banking_csv(path: Path) -> Split:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read BANKING77: {exc}") from exc
    if not rows or set(rows[0]) != {"text", "category"}:
        raise DatasetError(f"{path}: expected the header text,category")
    return Split([row["text"] for row in rows], [row["category"] for row in rows])


def load_banking77(data_dir: Path) -> Dataset:
    """BANKING77, with a stratified validation split held out of train (fixed seed)."""
    folder = data_dir / "banking77"
    full_train = _read_banking_csv(folder / "train.csv")
    test = _read_banking_csv(folder / "test.csv")
    by_label: dict[str, list[int]] = defaultdict(list)
    for index, label in enumerate(full_train.labels):
        by_label[label].append(index)
    rng = random.Random(BANKING77_SEED)
    held: set[int] = set()
    for label in sorted(by_label):
        indices = by_label[label]
        held.update(
            rng.sample(indices, max(1, round(len(indices) * BANKING77_VALIDATION_FRACTION)))
        )
    train_idx = [i for i in range(len(full_train)) if i not in held]
    val_idx = sorted(held)
    return Dataset(
        name="banking77",
        train=Split(
            [full_train.texts[i] for i in train_idx], [full_train.labels[i] for i in train_idx]
        ),
        validation=Split(
            [full_train.texts[i] for i in val_idx], [full_train.labels[i] for i in val_idx]
        ),
        test=test,
    )


def load_dataset(name: str, data_dir: Path | None = None) -> Dataset:
    data_dir = data_dir or DEFAULT_DATA_DIR
    if name == "clinc150":
        return load_clinc150(data_dir)
    if name == "banking77":
        return load_banking77(data_dir)
    raise DatasetError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")
