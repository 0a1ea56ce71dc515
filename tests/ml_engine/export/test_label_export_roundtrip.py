"""CSV and JSON Lines label exports: round trips, atomic writes, validation, streaming."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ml_engine.export.label_export import LabelFile, write_labels_csv, write_labels_jsonl
from ml_engine.export.label_rows import LabelExportError, LabelRow, safe_file_name
from ml_engine.progress import Cancelled

CLASSES = ("neutral", "happiness", "file", "sad, really")
ODD_NAMES = [
    "plain.png",
    'comma, "quoted".png',
    "ünïcødé-笑顔.png",
    "line\nbreak.png",
    " leading space.png",
    "=SUM(A1).png",
    "a/b/../c.png",
]

WRITERS = {"csv": write_labels_csv, "jsonl": write_labels_jsonl}


def sample_rows() -> list[LabelRow]:
    return [
        LabelRow("plain.png", "/x/plain.png", (3, 1, 0, 0), (0,), 0),
        LabelRow('comma, "quoted".png', "", (0, 5, 5, 0), (1, 2), None),
        LabelRow("ünïcødé-笑顔.png", "", (0, 0, 0, 0), (), None),
        LabelRow("line\nbreak.png", "", (1, 1, 1, 1), (3, 0, 2), 3, num_votes=2),
        LabelRow(" leading space.png", "", (0, 0, 2, 0), (2,), 2),
        LabelRow("=SUM(A1).png", "", (0, 10, 0, 0), (1,), 1),
        LabelRow("a/b/../c.png", "", (0, 0, 0, 1), (3,), 3),
    ]


@pytest.mark.parametrize("format", ["csv", "jsonl"])
def test_round_trip_reproduces_labels_votes_and_candidates(tmp_path: Path, format: str) -> None:
    rows = sample_rows()
    path = tmp_path / f"labels.{format}"
    summary = WRITERS[format](path, CLASSES, iter(rows))
    assert summary.rows == len(rows) and summary.skipped == {}

    loaded = LabelFile(path)
    back = list(loaded)
    assert loaded.class_names == CLASSES
    assert [r.file_name for r in back] == ODD_NAMES
    assert [r.label for r in back] == [r.label for r in rows]
    assert [tuple(r.votes) for r in back] == [tuple(r.votes) for r in rows]
    assert [r.candidates for r in back] == [tuple(sorted(r.candidates)) for r in rows]
    assert [r.total_votes() for r in back] == [4, 10, 0, 2, 2, 10, 1]


def test_csv_columns_and_agreement(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    write_labels_csv(path, CLASSES, sample_rows())
    with open(path, newline="", encoding="utf-8") as handle:
        table = list(csv.reader(handle))
    assert table[0] == [
        "file",
        "label",
        "votes_neutral",
        "votes_happiness",
        "votes_file",
        "votes_sad, really",
        "candidates",
        "num_votes",
        "agreement",
        "reviewed_by",
        "split",
    ]
    assert table[1] == ["plain.png", "neutral", "3", "1", "0", "0", "neutral", "4", "0.75", "", "pool"]
    assert table[2][1] == "" and table[2][6] == "happiness|file" and table[2][8] == "0.5"
    assert table[3][7:] == ["0", "", "", "pool"]
    assert table[4][8] == "0.5"  # one of two answers for the top class (set votes counted per class)


def test_jsonl_fields(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    write_labels_jsonl(path, CLASSES, sample_rows()[:2])
    first, second = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines())
    assert first == {
        "file": "plain.png",
        "label": "neutral",
        "votes": {"neutral": 3, "happiness": 1, "file": 0, "sad, really": 0},
        "candidates": ["neutral"],
        "num_votes": 4,
        "agreement": 0.75,
        "reviewed_by": None,
        "split": "pool",
    }
    assert second["label"] is None and second["candidates"] == ["happiness", "file"]


@pytest.mark.parametrize("format", ["csv", "jsonl"])
def test_invalid_row_leaves_no_file(tmp_path: Path, format: str) -> None:
    path = tmp_path / f"labels.{format}"
    rows = [*sample_rows(), LabelRow("bad.png", "", (1, 0, 0, 0), (7,), 0)]
    with pytest.raises(LabelExportError, match=r"bad\.png.*candidate set \[7\]"):
        WRITERS[format](path, CLASSES, rows)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "row, message",
    [
        (LabelRow("x.png", "", (1, 0, 0), (), None), "3 vote counts for 4 classes"),
        (LabelRow("x.png", "", (1, -1, 0, 0), (), None), "non-negative"),
        (LabelRow("x.png", "", (1, 0, 0, 0), (0, 0), None), "duplicate"),
        (LabelRow("x.png", "", (1, 0, 0, 0), (), 4), "label 4"),
        (LabelRow("x.png", "", (3, 0, 0, 0), (), 0, num_votes=2), "num_votes 2"),
        (LabelRow("", "", (0, 0, 0, 0), (), None), "empty file name"),
    ],
)
def test_rows_are_validated(tmp_path: Path, row: LabelRow, message: str) -> None:
    with pytest.raises(LabelExportError, match=message):
        write_labels_csv(tmp_path / "l.csv", CLASSES, [row])


@pytest.mark.parametrize("names", [(), ("a", "a"), ("a|b",), ("",), (" a",), ("a\nb",)])
def test_bad_class_names_are_refused(tmp_path: Path, names: tuple[str, ...]) -> None:
    with pytest.raises(LabelExportError):
        write_labels_csv(tmp_path / "l.csv", names, [])


def test_existing_export_survives_a_failed_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    write_labels_csv(path, CLASSES, sample_rows())
    before = path.read_bytes()
    with pytest.raises(LabelExportError):
        write_labels_csv(path, CLASSES, [LabelRow("x.png", "", (1,), (), None)])
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["labels.csv"]


def test_rows_are_streamed_and_progress_and_cancel_work(tmp_path: Path) -> None:
    consumed: list[int] = []

    def rows() -> Iterator[LabelRow]:
        for i in range(2500):
            consumed.append(i)
            yield LabelRow(f"f{i}.png", "", (1, 0, 0, 0), (0,), 0)

    reports = []
    summary = write_labels_jsonl(tmp_path / "l.jsonl", CLASSES, rows(), total=2500, progress=reports.append)
    assert summary.rows == 2500
    assert [r.step for r in reports] == [0, 1000, 2000, 2500]
    assert reports[-1].fraction == 1.0

    consumed.clear()
    with pytest.raises(Cancelled):
        write_labels_csv(tmp_path / "c.csv", CLASSES, rows(), cancel=lambda: len(consumed) >= 1000)
    assert len(consumed) == 1001  # stopped at the next check, not after reading everything
    assert not (tmp_path / "c.csv").exists()


def test_reader_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    write_labels_csv(path, CLASSES, sample_rows()[:1])
    with open(path, "a", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerow(["y.png", "angry", 0, 0, 0, 0, "", 0, "", "", "pool"])
    with pytest.raises(LabelExportError, match=r"line 3: unknown class names \['angry'\]"):
        list(LabelFile(path))
    (tmp_path / "h.csv").write_text("name,label\n", encoding="utf-8")
    with pytest.raises(LabelExportError, match="header"):
        LabelFile(tmp_path / "h.csv")


def test_empty_exports_read_back_empty(tmp_path: Path) -> None:
    write_labels_csv(tmp_path / "e.csv", CLASSES, [])
    write_labels_jsonl(tmp_path / "e.jsonl", CLASSES, [])
    assert LabelFile(tmp_path / "e.csv").class_names == CLASSES
    assert list(LabelFile(tmp_path / "e.csv")) == list(LabelFile(tmp_path / "e.jsonl")) == []


@pytest.mark.parametrize(
    "name, expected",
    [
        ("../x.png", "x.png"),
        ("a/b.png", "a_b.png"),
        ("..\\..\\win.png", "win.png"),
        ("/etc/passwd", "etc_passwd"),
        ("C:\\temp\\x.png", "temp_x.png"),
        (".hidden.png", "_hidden.png"),
        ("tab\there:.png", "tab_here_.png"),
        ("  spaced.png ", "spaced.png"),
    ],
)
def test_safe_file_name(name: str, expected: str) -> None:
    assert safe_file_name(name) == expected


@pytest.mark.parametrize("name", ["..", "/", "./.", " "])
def test_safe_file_name_refuses_empty_results(name: str) -> None:
    with pytest.raises(LabelExportError):
        safe_file_name(name)


def test_numpy_rows_from_a_bridge_are_accepted(tmp_path: Path) -> None:
    votes = np.array([[2, 1, 0, 0], [0, 0, 0, 3]], dtype=np.int32)
    rows = [
        LabelRow(f"n{i}.png", "", votes[i], np.flatnonzero(votes[i] >= 1), np.int64(votes[i].argmax()))
        for i in range(2)
    ]
    write_labels_jsonl(tmp_path / "n.jsonl", CLASSES, rows)
    back = list(LabelFile(tmp_path / "n.jsonl"))
    assert [r.votes for r in back] == [(2, 1, 0, 0), (0, 0, 0, 3)]
    assert [r.candidates for r in back] == [(0, 1), (3,)] and [r.label for r in back] == [0, 3]
    assert rows[0].agreement() == pytest.approx(2 / 3)


@pytest.mark.parametrize("format", ["csv", "jsonl"])
def test_reviewer_is_written_and_read_back(tmp_path: Path, format: str) -> None:
    rows = [
        LabelRow("a.png", "", (2, 1, 0, 0), (0, 1), 1, reviewed_by="rita"),
        LabelRow("b.png", "", (0, 3, 0, 0), (1,), 1),
    ]
    path = tmp_path / f"labels.{format}"
    WRITERS[format](path, CLASSES, rows)
    back = list(LabelFile(path))
    assert [(r.label, r.reviewed_by) for r in back] == [(1, "rita"), (1, "")]
    if format == "jsonl":
        first = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
        assert first["reviewed_by"] == "rita" and first["label"] == "happiness"


def test_csv_written_before_reviews_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "old.csv"
    path.write_text(
        'file,label,votes_neutral,votes_happiness,votes_file,"votes_sad, really",candidates,num_votes,agreement\r\n'
        "x.png,neutral,2,0,0,0,neutral,2,1.0\r\n",
        encoding="utf-8",
    )
    back = list(LabelFile(path))
    assert [(r.file_name, r.label, tuple(r.votes), r.reviewed_by, r.split) for r in back] == [
        ("x.png", 0, (2, 0, 0, 0), "", "pool")
    ]


def test_split_column_reads_back_and_a_file_written_before_it_reads_as_pool(tmp_path: Path) -> None:
    rows = [
        LabelRow("t.png", "", (1, 0, 0, 0), (), 0, split="test"),
        LabelRow("a.png", "", (0, 0, 0, 0), split="auxiliary"),
    ]
    for format, writer in (("csv", write_labels_csv), ("jsonl", write_labels_jsonl)):
        path = tmp_path / f"labels.{format}"
        writer(path, CLASSES, rows)
        assert [(r.file_name, r.split) for r in LabelFile(path)] == [
            ("t.png", "test"),
            ("a.png", "auxiliary"),
        ]
    old = tmp_path / "reviewed.csv"
    old.write_text(
        'file,label,votes_neutral,votes_happiness,votes_file,"votes_sad, really",candidates,num_votes,agreement,reviewed_by\r\n'
        "x.png,neutral,2,0,0,0,neutral,2,1.0,rita\r\n",
        encoding="utf-8",
    )
    assert [(r.reviewed_by, r.split) for r in LabelFile(old)] == [("rita", "pool")]
    with pytest.raises(LabelExportError, match="split 'train' is not one of"):
        write_labels_csv(tmp_path / "bad.csv", CLASSES, [LabelRow("b.png", "", (0, 0, 0, 0), split="train")])
