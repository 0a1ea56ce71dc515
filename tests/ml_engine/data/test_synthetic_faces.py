"""Synthetic faces: deterministic by seed, class shares as configured, a complete manifest, AUs that show."""

from __future__ import annotations

import csv

import numpy as np

from ml_engine.data.expressions import (
    EIGHT_CLASSES,
    SEVEN_CLASSES,
    allocate_classes,
    class_proportions,
    prototypes,
)
from ml_engine.data.face_drawing import FRAME_CENTRE_V, FRAME_ZOOM, render_face
from ml_engine.data.face_params import Difficulty, sample_face_parameters
from ml_engine.data.synthetic import generate_faces, main


def test_same_seed_gives_identical_faces_and_votes_and_another_seed_does_not():
    first, second = generate_faces(12, seed=3, size=24), generate_faces(12, seed=3, size=24)
    other = generate_faces(12, seed=4, size=24)
    assert np.array_equal(first.images, second.images)
    assert np.array_equal(first.votes, second.votes)
    assert np.array_equal(first.annotator_votes.annotator, second.annotator_votes.annotator)
    assert not np.array_equal(first.images, other.images)


def test_vote_count_does_not_change_the_faces():
    with_votes, without = (
        generate_faces(6, seed=1, size=24),
        generate_faces(6, seed=1, size=24, votes_per_face=0),
    )
    assert np.array_equal(with_votes.images, without.images)
    assert without.votes is None and without.annotator_votes is None


def test_command_line_writes_byte_identical_files_for_the_same_seed(tmp_path, capsys):
    for folder in ("a", "b"):
        main(
            [
                "--out",
                str(tmp_path / folder),
                "--n",
                "5",
                "--seed",
                "7",
                "--size",
                "24",
                "--votes-per-face",
                "3",
            ]
        )
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == ["annotator_votes.csv", *[f"face_{i:05d}.png" for i in range(5)], "manifest.csv"]
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert "wrote 5 faces" in capsys.readouterr().out


def test_manifest_records_class_intensity_blend_identity_and_votes(tmp_path):
    main(
        [
            "--out",
            str(tmp_path),
            "--n",
            "8",
            "--seed",
            "2",
            "--size",
            "24",
            "--votes-per-face",
            "4",
            "--contempt",
        ]
    )
    with open(tmp_path / "manifest.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 8
    columns = set(rows[0])
    assert {"file", "true_class", "intensity", "blend_class", "blend_weight"} <= columns
    assert {"face_width", "skin", "eye_spacing", "hair_style", "roll", "yaw", "occlusion"} <= columns
    assert {f"votes_{name}" for name in EIGHT_CLASSES} <= columns
    faces = generate_faces(8, 2, 24, votes_per_face=4, contempt=True)  # what the command drew
    for index, row in enumerate(rows):
        blend = EIGHT_CLASSES[faces.blend_class[index]] if faces.blend_class[index] >= 0 else ""
        assert (row["file"], row["true_class"], row["blend_class"]) == (
            faces.names[index],
            EIGHT_CLASSES[faces.labels[index]],
            blend,
        )
        assert (row["intensity"], row["blend_weight"]) == (
            f"{faces.intensity[index]:.4f}",
            f"{faces.blend_weight[index]:.4f}",
        )
        assert [int(row[f"votes_{name}"]) for name in EIGHT_CLASSES] == faces.votes[index].tolist()
        assert sum(faces.votes[index]) == 4
        assert (row["blend_class"] == "") == (float(row["blend_weight"]) == 0.0)
    with open(tmp_path / "annotator_votes.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 8 * 4


def test_class_shares_follow_the_raf_proportions_and_uniform():
    shares = class_proportions(SEVEN_CLASSES, "raf")
    labels = allocate_classes(np.random.default_rng(0), 1000, shares)
    counts = np.bincount(labels, minlength=7)
    assert np.all(np.abs(counts - 1000 * shares) < 1.0)
    expected = {"neutral": 0.20, "happiness": 0.39, "sadness": 0.16, "surprise": 0.10, "fear": 0.023}
    for name, share in expected.items():
        assert abs(shares[SEVEN_CLASSES.index(name)] - share) < 0.005
    faces = generate_faces(70, seed=5, size=16, imbalance="uniform", votes_per_face=0)
    assert np.bincount(faces.labels).tolist() == [10] * 7


def test_subset_keeps_the_manifest_aligned():
    faces = generate_faces(10, seed=8, size=16, votes_per_face=3)
    part = faces.subset([7, 2])
    assert part.names == ["face_00007.png", "face_00002.png"]
    assert part.intensity.tolist() == faces.intensity[[7, 2]].tolist()
    assert part.parameters["skin"].tolist() == faces.parameters["skin"][[7, 2]].tolist()
    assert np.array_equal(np.bincount(part.annotator_votes.face, minlength=2), [3, 3])
    assert np.array_equal(part.votes, faces.votes[[7, 2]])


def _frontal_row() -> dict[str, float]:
    easy = Difficulty(pose=0.0, imaging=0.0, occlusion_probability=0.0)
    parameters = sample_face_parameters(np.random.default_rng(0), 1, easy)
    row = {name: float(values[0]) for name, values in parameters.items()}
    row.update(noise=0.0, skin=180.0, light_strength=0.0, contrast=1.0)
    return row


def test_surprise_opens_a_dark_mouth_where_neutral_has_closed_lips():
    row, table = _frontal_row(), prototypes(SEVEN_CLASSES)
    size = 96

    def draw(name: str) -> np.ndarray:
        return render_face(row, table[SEVEN_CLASSES.index(name)], size, 3, np.random.default_rng(0)).astype(
            float
        )

    half = size / 2 * FRAME_ZOOM * row["scale"]
    mouth_v = max(row["mouth_y"], row["eye_y"] + row["nose_length"] + 0.1)
    centre = int(size / 2 + half * (mouth_v - FRAME_CENTRE_V))
    mouth = (slice(centre, centre + 8), slice(size // 2 - 4, size // 2 + 4))
    assert draw("surprise")[mouth].mean() < 100  # the open mouth is drawn at gray level 25
    assert draw("neutral")[mouth].mean() > 130  # closed lips and skin (180 - 35 and 180)
