"""The one in-memory description of a face dataset that every importer returns.

Importers (FER2013 CSV, FERPlus, ImageFolder, RAF-DB, plain folders and zips) and the
synthetic generator all produce a :class:`FaceDataset`; training, the query strategies and
the web app's bridge consume it. Images are either decoded into one ``uint8`` array (for
formats that store pixels inline, such as the FER2013 CSV) or kept as file paths that are
decoded on access, so a pool of 100k faces does not have to sit in memory twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Self

import numpy as np

UNLABELED = -1
SPLITS = ("train", "val", "test", "pool", "auxiliary")
"""``auxiliary``: unlabeled faces from elsewhere, never labeled, pseudo-labeled for training (omni-supervised)."""


@dataclass(frozen=True)
class ImportProblem:
    """A face that could not be imported, named by its source, with the reason."""

    source: str
    reason: str


@dataclass
class FaceDataset:
    """Faces with optional labels, crowd votes and split assignment.

    Attributes:
        class_names: names of the classes, in label-index order.
        names: a stable identifier per face (file name, or ``file.csv#row``).
        images: either a ``uint8`` array of shape ``(N, H, W)`` (grayscale, decoded) or a
            list of ``N`` file paths decoded on access by :meth:`load_image`.
        labels: ``int64`` array of shape ``(N,)``; ``UNLABELED`` (-1) where unknown.
        votes: optional ``int32`` array of shape ``(N, len(class_names))``: crowd votes per class.
        splits: array of ``N`` strings from ``SPLITS``.
        problems: faces that could not be imported, reported by name with the reason.
    """

    class_names: tuple[str, ...]
    names: list[str]
    images: np.ndarray | list[str]
    labels: np.ndarray
    splits: np.ndarray
    votes: np.ndarray | None = None
    problems: list[ImportProblem] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.class_names = tuple(self.class_names)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        self.splits = np.asarray(self.splits, dtype=object)
        n = len(self.names)
        if len(self.images) != n or len(self.labels) != n or len(self.splits) != n:
            raise ValueError(
                f"inconsistent lengths: names {n}, images {len(self.images)}, "
                f"labels {len(self.labels)}, splits {len(self.splits)}"
            )
        if self.votes is not None:
            self.votes = np.asarray(self.votes, dtype=np.int32)
            if self.votes.shape != (n, len(self.class_names)):
                raise ValueError(
                    f"votes must have shape {(n, len(self.class_names))}, got {self.votes.shape}"
                )
        unknown = set(np.unique(self.splits).tolist()) - set(SPLITS)
        if unknown:
            raise ValueError(f"unknown split names {sorted(unknown)}; expected a subset of {SPLITS}")
        if n and (
            self.labels.max(initial=-1) >= len(self.class_names) or self.labels.min(initial=0) < UNLABELED
        ):
            raise ValueError("labels must lie in [-1, number of classes)")

    def __len__(self) -> int:
        return len(self.names)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def in_memory(self) -> bool:
        """Whether the pixels are already decoded into one array."""
        return isinstance(self.images, np.ndarray)

    def subset(self, indices: Sequence[int] | np.ndarray) -> Self:
        """A new dataset holding the faces at ``indices``, in that order (problems are kept)."""
        idx = np.asarray(indices, dtype=np.int64)
        images = self.images[idx] if isinstance(self.images, np.ndarray) else [self.images[i] for i in idx]
        return replace(
            self,
            names=[self.names[i] for i in idx],
            images=images,
            labels=self.labels[idx],
            splits=self.splits[idx],
            votes=None if self.votes is None else self.votes[idx],
            problems=list(self.problems),
        )

    def split(self, name: str) -> Self:
        """The faces assigned to split ``name`` (one of ``SPLITS``)."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; expected one of {SPLITS}")
        return self.subset(np.flatnonzero(self.splits == name))

    def load_image(self, index: int, size: int | None = None) -> np.ndarray:
        """The face at ``index`` as a grayscale ``uint8`` array, resized to ``size`` if given."""
        from ml_engine.data.decoding import decode_grayscale, resize_square

        stored = self.images[index]
        image = decode_grayscale(stored) if isinstance(stored, str) else stored
        return image if size is None or image.shape == (size, size) else resize_square(image, size)
