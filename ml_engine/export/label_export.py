"""Label sets as CSV and JSON Lines, written and read back one row at a time.

Both formats hold the same fields per face (see :mod:`ml_engine.export.label_rows` for
``num_votes`` and ``agreement``):

* CSV (UTF-8, no BOM, RFC 4180 quoting so names with commas, quotes or line breaks survive)
  with the header ``file, label, votes_<class>... , candidates, num_votes, agreement, reviewed_by,
  split`` (``reviewed_by`` names the reviewer whose label replaced the votes' one, empty when
  none; ``split`` is the project split: pool, test or auxiliary; files written before these
  columns existed end at ``agreement`` or ``reviewed_by`` and still read back, as pool faces).
  ``label`` is a class name or empty; ``candidates`` joins class names with ``|`` in class
  order. The vote columns carry a ``votes_`` prefix so a class called ``file`` or ``label``
  cannot collide with the fixed columns, and the reader recovers the class list from them.
* JSON Lines (UTF-8, one object per line):
  ``{"file", "label", "votes": {class: count}, "candidates": [class], "num_votes", "agreement",
  "reviewed_by", "split"}`` (``reviewed_by`` null when the label is the votes' own).

Writers take any iterable of :class:`LabelRow` (the web app passes a database iterator), so
a million-face export never holds its rows in memory; the file appears under its final name
only when complete (:func:`~ml_engine.atomic_write.atomic_path`). Readers
(:class:`LabelFile`) stream too, for the round trip and for re-importing a label set.
Opened in a spreadsheet, a file name beginning with ``=`` may be taken for a formula: the
exports keep names verbatim because the round trip must reproduce them.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TypedDict, Unpack

from ml_engine.atomic_write import atomic_path
from ml_engine.export.label_rows import (
    CANDIDATE_SEPARATOR,
    ExportSummary,
    LabelExportError,
    LabelRow,
    check_class_names,
    check_row,
)
from ml_engine.export.streaming import ExportPath, RowTracking, track

VOTE_PREFIX = "votes_"
LEADING_COLUMNS = ("file", "label")
TRAILING_COLUMNS = ("candidates", "num_votes", "agreement", "reviewed_by", "split")
EARLIER_TRAILING_COLUMNS = (TRAILING_COLUMNS[:-1], TRAILING_COLUMNS[:-2])
"""The trailing columns of files written before splits, and before reviews, existed."""
JSON_KEYS = {"file", "label", "votes", "candidates", "num_votes", "agreement", "reviewed_by", "split"}


class LabelRecord(TypedDict):
    """One face's exported fields (CSV columns, JSON Lines keys)."""

    file: str
    label: str | None
    votes: dict[str, int]
    candidates: list[str]
    num_votes: int
    agreement: float | None
    reviewed_by: str | None
    split: str


def _record(row: LabelRow, class_names: tuple[str, ...]) -> LabelRecord:
    """The export fields of a checked row, with class names in place of indices."""
    votes, candidates = check_row(row, len(class_names))
    total = sum(votes) if row.num_votes is None else int(row.num_votes)
    return {
        "file": row.file_name,
        "label": None if row.label is None else class_names[row.label],
        "votes": dict(zip(class_names, votes, strict=True)),
        "candidates": [class_names[c] for c in candidates],
        "num_votes": total,
        "agreement": round(max(votes) / total, 6) if total > 0 else None,
        "reviewed_by": row.reviewed_by or None,
        "split": row.split,
    }


def write_labels_csv(
    path: ExportPath, class_names: Sequence[str], rows: Iterable[LabelRow], **tracking: Unpack[RowTracking]
) -> ExportSummary:
    """Write ``rows`` as a CSV label set at ``path`` (atomically).

    Raises:
        LabelExportError: for an invalid class list or row (nothing is left at ``path``).
        Cancelled: when ``cancel`` fires (nothing is left at ``path``).
    """
    names = check_class_names(class_names)
    header = [*LEADING_COLUMNS, *(VOTE_PREFIX + name for name in names), *TRAILING_COLUMNS]
    count = 0
    with atomic_path(path) as temporary, open(temporary, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in track(rows, stage="export_labels_csv", **tracking):
            record = _record(row, names)
            writer.writerow(
                [
                    record["file"],
                    record["label"] or "",
                    *record["votes"].values(),
                    CANDIDATE_SEPARATOR.join(record["candidates"]),
                    record["num_votes"],
                    "" if record["agreement"] is None else record["agreement"],
                    record["reviewed_by"] or "",
                    record["split"],
                ]
            )
            count += 1
    return ExportSummary(str(path), count)


def write_labels_jsonl(
    path: ExportPath, class_names: Sequence[str], rows: Iterable[LabelRow], **tracking: Unpack[RowTracking]
) -> ExportSummary:
    """Write ``rows`` as JSON Lines at ``path`` (atomically); same errors as :func:`write_labels_csv`."""
    names = check_class_names(class_names)
    count = 0
    with atomic_path(path) as temporary, open(temporary, "w", encoding="utf-8") as handle:
        for row in track(rows, stage="export_labels_jsonl", **tracking):
            handle.write(json.dumps(_record(row, names), ensure_ascii=False) + "\n")
            count += 1
    return ExportSummary(str(path), count)


class LabelFile:
    """A CSV or JSON Lines label-set export, read back lazily.

    ``class_names`` is read on construction (the CSV header, or the first JSON line's vote
    keys); iterating opens the file again and yields one :class:`LabelRow` per face, with
    indices into ``class_names``, ``num_votes`` as written and an empty ``image_path``.

    Raises:
        LabelExportError: on a malformed header or row, naming the line.
    """

    def __init__(self, path: str | os.PathLike[str], format: str | None = None) -> None:
        self.path = Path(path)
        self.format = format or ("jsonl" if self.path.suffix.lower() in (".jsonl", ".ndjson") else "csv")
        if self.format not in ("csv", "jsonl"):
            raise ValueError(f"unknown label file format {self.format!r}; expected 'csv' or 'jsonl'")
        self.class_names = self._read_class_names()
        self._index = {name: i for i, name in enumerate(self.class_names)}

    def __iter__(self) -> Iterator[LabelRow]:
        return self._iter_csv() if self.format == "csv" else self._iter_jsonl()

    def _read_class_names(self) -> tuple[str, ...]:
        if self.format == "csv":
            with open(self.path, newline="", encoding="utf-8") as handle:
                header = next(csv.reader(handle), [])
            self._trailing = next(
                (
                    columns
                    for columns in (TRAILING_COLUMNS, *EARLIER_TRAILING_COLUMNS)
                    if header[-1:] == [columns[-1]]
                ),
                TRAILING_COLUMNS,
            )
            return _class_names_from_header(header, self.path, self._trailing)
        with open(self.path, encoding="utf-8") as handle:
            first = next((line for line in handle if line.strip()), None)
        return () if first is None else tuple(_parse_json_line(first, self.path, 1)["votes"])

    def _iter_csv(self) -> Iterator[LabelRow]:
        with open(self.path, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            next(reader)
            width = len(LEADING_COLUMNS) + len(self.class_names) + len(self._trailing)
            for cells in reader:
                where = f"{self.path} line {reader.line_num}"
                if len(cells) != width:
                    raise LabelExportError(f"{where}: {len(cells)} columns, expected {width}")
                after_votes = 2 + len(self.class_names)
                votes = cells[2:after_votes]
                candidates, num_votes = cells[after_votes], cells[after_votes + 1]
                extra = dict(zip(self._trailing[3:], cells[after_votes + 3 :], strict=True))
                yield self._row(
                    where,
                    cells[0],
                    cells[1] or None,
                    votes,
                    candidates.split(CANDIDATE_SEPARATOR),
                    num_votes,
                    extra.get("reviewed_by", ""),
                    extra.get("split", "pool"),
                )

    def _iter_jsonl(self) -> Iterator[LabelRow]:
        with open(self.path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                record = _parse_json_line(line, self.path, number)
                where = f"{self.path} line {number}"
                if tuple(record["votes"]) != self.class_names:
                    raise LabelExportError(
                        f"{where}: vote classes {list(record['votes'])} differ from line 1"
                    )
                yield self._row(
                    where,
                    record["file"],
                    record["label"],
                    list(record["votes"].values()),
                    record["candidates"],
                    record["num_votes"],
                    record.get("reviewed_by") or "",
                    record.get("split") or "pool",
                )

    def _row(
        self,
        where: str,
        file: str,
        label: str | None,
        votes: list,
        candidates: list[str],
        num_votes: object,
        reviewed_by: str,
        split: str,
    ) -> LabelRow:
        index = self._index
        unknown = [name for name in [label, *candidates] if name and name not in index]
        if unknown:
            raise LabelExportError(f"{where}: unknown class names {unknown}")
        try:
            counts = [int(v) for v in votes]
            total = int(num_votes)  # type: ignore[call-overload]
        except (TypeError, ValueError) as error:
            raise LabelExportError(f"{where}: a vote count is not an integer ({error})") from None
        row = LabelRow(
            file_name=file,
            votes=tuple(counts),
            candidates=tuple(sorted(index[name] for name in candidates if name)),
            label=None if not label else index[label],
            num_votes=total,
            reviewed_by=reviewed_by,
            split=split,
        )
        try:
            check_row(row, len(self.class_names))
        except LabelExportError as error:
            raise LabelExportError(f"{where}: {error}") from None
        return row


def _class_names_from_header(header: list[str], path: Path, trailing: tuple[str, ...]) -> tuple[str, ...]:
    lead, trail = len(LEADING_COLUMNS), len(trailing)
    middle = header[lead:-trail] if len(header) >= lead + trail else []
    if (
        tuple(header[:lead]) != LEADING_COLUMNS
        or tuple(header[-trail:]) != trailing
        or not middle
        or not all(column.startswith(VOTE_PREFIX) for column in middle)
    ):
        raise LabelExportError(
            f"{path}: header {header!r} is not file, label, votes_<class>..., candidates, num_votes, agreement"
            ", reviewed_by, split"
        )
    return check_class_names([column[len(VOTE_PREFIX) :] for column in middle])


def _parse_json_line(line: str, path: Path, number: int) -> dict:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise LabelExportError(f"{path} line {number}: not JSON ({error})") from None
    expected = JSON_KEYS
    if (
        not isinstance(record, dict)
        or set(record) not in (expected, expected - {"split"}, expected - {"split", "reviewed_by"})
        or not isinstance(record["votes"], dict)
        or not isinstance(record["candidates"], list)
    ):
        raise LabelExportError(f"{path} line {number}: expected an object with keys {sorted(expected)}")
    return record
