"""One face of a label-set export: its votes, candidate set and label, checked once.

The web app's bridge turns database rows into :class:`LabelRow` objects and hands the
writers an *iterable* of them together with the project's class names, so an export of a
million faces streams through without a list of rows in memory. Every writer validates each
row with :func:`check_row` and derives the same two summary numbers from it:

* ``num_votes``: how many annotator answers the face got. It defaults to ``sum(votes)``
  (one class per answer); the bridge passes it explicitly when a candidate-set answer
  ("unsure": several plausible classes) adds one to each of its classes.
* ``agreement``: the share of answers that went to the most-voted class,
  ``max(votes) / num_votes`` (``None`` without votes). It describes the crowd, not the
  aggregation, so it is the same whether the label came from the majority or a crowd model;
  with a majority label it is exactly the winning class's share.
"""

from __future__ import annotations

import numbers
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

CANDIDATE_SEPARATOR = "|"
"""Separates class names in the CSV ``candidates`` column."""


class LabelExportError(ValueError):
    """A row or class list cannot be exported (the message names the face and the field)."""


SPLITS = ("pool", "test", "auxiliary")
"""The project splits a row can come from: pool (labeled by the loop), test (scored against),
auxiliary (never labeled; pseudo-labeled for training)."""


@dataclass(frozen=True)
class Answer:
    """One annotator's answer, for formats that keep who said what (Label Studio).

    Attributes:
        annotator: the annotator's user name.
        classes: class indices of the answer: one for a label, several for an unsure answer,
            none for a skip.
    """

    annotator: str
    classes: tuple[int, ...]


@dataclass(frozen=True)
class Prediction:
    """A model's guess for a face: its class index, confidence and model version."""

    class_index: int
    score: float
    model_version: str


@dataclass(frozen=True)
class LabelRow:
    """One face's labelling state.

    Attributes:
        file_name: the face's name as users know it (e.g. ``"FER2013Train/fer0000001.png"``).
        image_path: where the image file lies (used by the ImageFolder zip and for the
            FERPlus face box); empty on rows read back from a CSV or JSON Lines export.
        votes: votes per class, in class-name order (non-negative ints; a numpy row is fine).
        candidates: indices of the classes in the face's candidate set (any order).
        label: index of the face's label, or ``None`` when it has none.
        num_votes: annotator answers; ``None`` means ``sum(votes)``.
        reviewed_by: who reviewed the face and so set ``label`` over the votes; empty when
            the label is the votes' own.
        split: the project split the face is in (:data:`SPLITS`).
        sha256: the checksum of the face's decoded pixels (empty when unknown), so a copy
            can be matched to its face after a round trip through another tool.
        answers: each annotator's answer (only filled for formats that export them).
        prediction: the newest model's guess, or ``None``.
    """

    file_name: str
    image_path: str = ""
    votes: Sequence[int] = ()
    candidates: Sequence[int] = ()
    label: int | None = None
    num_votes: int | None = field(default=None)
    reviewed_by: str = ""
    split: str = "pool"
    sha256: str = ""
    answers: Sequence[Answer] = ()
    prediction: Prediction | None = None

    def total_votes(self) -> int:
        """``num_votes``, or ``sum(votes)`` when it was not given."""
        return sum(self.votes) if self.num_votes is None else self.num_votes

    def agreement(self) -> float | None:
        """Share of answers for the most-voted class; ``None`` when the face has no votes."""
        total = self.total_votes()
        return float(max(self.votes)) / total if total > 0 and len(self.votes) else None


@dataclass(frozen=True)
class ExportSummary:
    """What a label-set writer wrote.

    Attributes:
        path: the finished file.
        rows: faces written.
        skipped: faces left out, by reason (e.g. ``{"unlabeled": 12}``); empty when none.
        missing_images: file names whose image file could not be read (ImageFolder zip).
    """

    path: str
    rows: int
    skipped: dict[str, int] = field(default_factory=dict)
    missing_images: list[str] = field(default_factory=list)


def check_class_names(class_names: Sequence[str]) -> tuple[str, ...]:
    """Validate the project's class names for export and return them as a tuple.

    Raises:
        LabelExportError: for no classes, empty or duplicate names, or a name containing
            ``|`` (the CSV candidate separator), a line break or another control character.
    """
    names = tuple(class_names)
    if not names:
        raise LabelExportError("a label set needs at least one class name")
    for name in names:
        if not name or name != name.strip():
            raise LabelExportError(f"class name {name!r} is empty or has surrounding whitespace")
        if CANDIDATE_SEPARATOR in name or re.search(r"[\x00-\x1f\x7f]", name):
            raise LabelExportError(f"class name {name!r} contains '|' or a control character")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise LabelExportError(f"duplicate class names {duplicates}")
    return names


def _integers(values: Sequence[int]) -> list[int]:
    """``values`` as a list of Python ints; ``TypeError`` if any is not an integer (or is a bool).

    Numpy rows convert with one ``tolist``; plain ints pass a cheap exact-type check, so a
    million rows are not slowed by ``numbers.Integral``'s ABC check on every element.
    """
    plain = values.tolist() if hasattr(values, "tolist") else list(values)
    if all(type(v) is int for v in plain):
        return plain
    if any(not isinstance(v, numbers.Integral) or isinstance(v, bool) for v in plain):
        raise TypeError(f"not all integers: {plain}")
    return [int(v) for v in plain]


def check_row(row: LabelRow, num_classes: int) -> tuple[list[int], list[int]]:
    """Validate ``row``; return its votes and its sorted candidate set as Python ints.

    Raises:
        LabelExportError: naming ``row.file_name`` and the field that is out of range.
    """
    where = f"face {row.file_name!r}"
    if not row.file_name or "\x00" in row.file_name:
        raise LabelExportError(f"a face has an empty file name or one with a NUL byte: {row.file_name!r}")
    try:
        votes, candidates = _integers(row.votes), sorted(_integers(row.candidates))
    except TypeError as error:
        raise LabelExportError(f"{where}: votes and candidates must be ints ({error})") from None
    if len(votes) != num_classes:
        raise LabelExportError(f"{where}: {len(votes)} vote counts for {num_classes} classes")
    if votes and min(votes) < 0:
        raise LabelExportError(f"{where}: votes must be non-negative ints, got {votes}")
    if candidates and (
        candidates[0] < 0 or candidates[-1] >= num_classes or len(set(candidates)) != len(candidates)
    ):
        raise LabelExportError(
            f"{where}: candidate set {list(row.candidates)} has a duplicate or unknown class"
        )
    if row.label is not None and not 0 <= row.label < num_classes:
        raise LabelExportError(f"{where}: label {row.label} is not a class index below {num_classes}")
    if row.split not in SPLITS:
        raise LabelExportError(f"{where}: split {row.split!r} is not one of {SPLITS}")
    if row.num_votes is not None and not max(votes, default=0) <= row.num_votes:
        raise LabelExportError(f"{where}: num_votes {row.num_votes} is below the top class's votes")
    return votes, candidates


def safe_file_name(name: str) -> str:
    """A single, harmless path component for ``name`` (used inside zips and FERPlus label.csv).

    Folder parts are flattened with ``_`` (``"a/b.png"`` -> ``"a_b.png"``), ``.``/``..``
    parts and drive letters are dropped (``"../x.png"`` -> ``"x.png"``), control characters
    and ``:`` become ``_``, surrounding whitespace is stripped, and leading dots become ``_``
    (hidden files are skipped by importers and file browsers). So no exported name can climb
    out of the folder it is extracted to, whatever the uploaded file was called.

    Raises:
        LabelExportError: when nothing usable is left (e.g. ``".."``).
    """
    parts = re.split(r"[/\\]+", name)
    parts = [p.strip() for p in parts if p.strip() not in ("", ".", "..")]
    if parts and re.fullmatch(r"[A-Za-z]:", parts[0]):
        parts = parts[1:]
    cleaned = re.sub(r"[\x00-\x1f\x7f:]", "_", "_".join(parts)).strip()
    cleaned = re.sub(r"^\.+", lambda dots: "_" * len(dots.group()), cleaned)
    if not cleaned:
        raise LabelExportError(f"file name {name!r} has no usable characters")
    return cleaned


def unique_name(name: str, used: set[str]) -> str:
    """``name``, or ``stem-2.ext``, ``stem-3.ext``... whichever is not yet in ``used``.

    Comparison is case-insensitive (``casefold``) because macOS and Windows file systems
    are; the chosen name is added to ``used``. ``name`` may include a folder prefix.
    """
    stem, extension = os.path.splitext(name)
    candidate, number = name, 1
    while candidate.casefold() in used:
        number += 1
        candidate = f"{stem}-{number}{extension}"
    used.add(candidate.casefold())
    return candidate
