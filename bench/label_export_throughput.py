"""Label-set export speed against a bare ``csv.writer`` loop, and memory that does not grow with the rows.

Each writer gets the same rows (8 classes, 10 votes per face), generated once into a list
so only the writing is timed. The baseline is the minimum anyone would write: ``csv.writer``
over the row fields, no validation, no class names, no atomic rename. Every variant runs ``--rounds`` times, alternating, and the median is
reported as faces per second and as a ratio to the baseline measured in the same process.

Memory: the CSV writer runs under ``tracemalloc`` at ``n / 10`` and at ``n`` faces; a
streaming writer has the same peak for both (the rows are never held in a list).

Memory uses a generator instead of the list, as the web app's database iterator would.

The ImageFolder zip copies ``--images`` small PNG files; its baseline is a bare
``zipfile.ZipFile.write`` loop over the same files.

    python bench/label_export_throughput.py [--faces 100000] [--images 5000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tempfile
import time
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ml_engine.export.ferplus_export import write_ferplus_label_csv
from ml_engine.export.image_folder_zip import write_image_folder_zip
from ml_engine.export.label_export import LabelFile, write_labels_csv, write_labels_jsonl
from ml_engine.export.label_rows import LabelRow

CLASSES = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")


def rows(count: int, image_paths: list[str] | None = None) -> Iterator[LabelRow]:
    """Deterministic faces with 10 votes each; every 7th face unlabeled."""
    generator = np.random.default_rng(0)
    for i in range(count):
        votes = np.bincount(generator.integers(0, len(CLASSES), 10), minlength=len(CLASSES))
        label = None if i % 7 == 0 else int(votes.argmax())
        path = image_paths[i % len(image_paths)] if image_paths else ""
        yield LabelRow(
            f"FER2013Train/fer{i:07d}, x.png", path, votes.tolist(), np.flatnonzero(votes >= 2), label
        )


def bare_csv(path: Path, faces: list[LabelRow]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        for row in faces:
            writer.writerow([row.file_name, row.label, *row.votes, list(row.candidates), sum(row.votes)])


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def compare(variants: dict[str, Callable[[], object]], count: int, rounds: int) -> None:
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, run in variants.items():
            times[name].append(timed(run))
    baseline = statistics.median(next(iter(times.values())))
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:<28} {count / median:>10,.0f} faces/s   {baseline / median:5.2f}x baseline speed")


def peak_memory(run: Callable[[], object]) -> int:
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def make_images(folder: Path, count: int) -> list[str]:
    generator = np.random.default_rng(1)
    paths = []
    for i in range(count):
        path = folder / f"{i}.png"
        Image.fromarray(generator.integers(0, 256, (48, 48), dtype=np.uint8)).save(path)
        paths.append(str(path))
    return paths


def bare_zip(path: Path, faces: list[LabelRow]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for row in faces:
            if row.label is not None:
                archive.write(
                    row.image_path, f"{CLASSES[row.label]}/{Path(row.image_path).name}-{row.file_name[-14:]}"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=100_000)
    parser.add_argument("--images", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    n = args.faces
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        print(f"label files, {n:,} faces, {len(CLASSES)} classes, median of {args.rounds} rounds:")
        faces = list(rows(n))
        write_labels_csv(out / "read.csv", CLASSES, faces)
        compare(
            {
                "bare csv.writer (baseline)": lambda: bare_csv(out / "bare.csv", faces),
                "write_labels_csv": lambda: write_labels_csv(out / "l.csv", CLASSES, faces),
                "write_labels_jsonl": lambda: write_labels_jsonl(out / "l.jsonl", CLASSES, faces),
                "write_ferplus_label_csv": lambda: write_ferplus_label_csv(
                    out / "label.csv", CLASSES, faces, face_size=(48, 48)
                ),
                "LabelFile (read CSV back)": lambda: sum(1 for _ in LabelFile(out / "read.csv")),
            },
            n,
            args.rounds,
        )
        faces.clear()
        small, large = (
            peak_memory(lambda c=c: write_labels_csv(out / "m.csv", CLASSES, rows(c))) for c in (n // 10, n)
        )
        print(
            f"  peak traced memory of write_labels_csv: {small / 1e6:.2f} MB at {n // 10:,} faces, "
            f"{large / 1e6:.2f} MB at {n:,} faces (ratio {large / small:.2f})"
        )
        images = out / "images"
        images.mkdir()
        paths = make_images(images, args.images)
        pictured = list(rows(args.images, paths))
        print(f"ImageFolder zip, {args.images:,} faces (48 px PNG), median of {args.rounds} rounds:")
        compare(
            {
                "bare ZipFile.write (baseline)": lambda: bare_zip(out / "bare.zip", pictured),
                "write_image_folder_zip": lambda: write_image_folder_zip(out / "f.zip", CLASSES, pictured),
            },
            args.images,
            args.rounds,
        )


if __name__ == "__main__":
    main()
