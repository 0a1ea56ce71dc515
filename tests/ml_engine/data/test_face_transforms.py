from __future__ import annotations

import numpy as np
import pytest
import torch

from ml_engine.data.dataset import FaceDataset
from ml_engine.data.transforms import (
    FACE_NORMALISATION,
    FaceTensorDataset,
    TrainTransform,
    eval_transform,
    train_transform,
)


def _faces(n: int = 6, side: int = 20) -> FaceDataset:
    rng = np.random.default_rng(0)
    return FaceDataset(
        class_names=("a", "b"),
        names=[f"f{i}" for i in range(n)],
        images=rng.integers(0, 256, (n, side, side), dtype=np.uint8),
        labels=np.arange(n) % 2,
        splits=np.array(["train"] * n),
    )


def _reference_normalise(image: np.ndarray) -> torch.Tensor:
    return (torch.from_numpy(image).float() / 255 - FACE_NORMALISATION.mean) / FACE_NORMALISATION.std


def test_eval_transform_normalises_a_single_face():
    image = np.arange(16 * 16, dtype=np.uint8).reshape(16, 16)
    out = eval_transform(16)(image)
    assert out.shape == (1, 16, 16) and out.dtype == torch.float32
    torch.testing.assert_close(out[0], _reference_normalise(image))


def test_train_and_eval_share_the_normalisation():
    image = np.full((16, 16), 200, dtype=np.uint8)
    identity = TrainTransform(16, padding=0, max_rotation=0.0, flip=False)
    torch.testing.assert_close(identity(image), eval_transform(16)(image), atol=1e-5, rtol=0)


def test_eval_transform_resizes():
    assert eval_transform(24)(np.zeros((40, 40), dtype=np.uint8)).shape == (1, 24, 24)


def test_padded_crop_is_an_integer_shift_with_zero_fill():
    torch.manual_seed(0)
    images = torch.randint(1, 256, (8, 1, 12, 12), dtype=torch.uint8)
    out = TrainTransform(12, padding=2, max_rotation=0.0, flip=False)(images)
    padded = torch.nn.functional.pad(_reference_normalise(images.numpy()), (2, 2, 2, 2), value=-2.0)
    for face, result in zip(padded, out, strict=True):
        crops = [face[:, dy : dy + 12, dx : dx + 12] for dy in range(5) for dx in range(5)]
        assert min((crop - result).abs().max().item() for crop in crops) < 1e-4


def test_flip_only_mirrors_each_face_or_leaves_it():
    torch.manual_seed(1)
    images = torch.randint(0, 256, (16, 1, 10, 10), dtype=torch.uint8)
    out = TrainTransform(10, padding=0, max_rotation=0.0, flip=True)(images)
    plain = eval_transform(10)(images)
    flipped = [torch.allclose(o, p.flip(-1), atol=1e-4) for o, p in zip(out, plain, strict=True)]
    same = [torch.allclose(o, p, atol=1e-4) for o, p in zip(out, plain, strict=True)]
    assert all(f or s for f, s in zip(flipped, same, strict=True))
    assert any(flipped) and any(same)


def test_train_transform_is_random_per_face_and_seeded():
    images = torch.full((4, 1, 48, 48), 128, dtype=torch.uint8)
    images[:, :, 10:20, 5:15] = 255
    torch.manual_seed(3)
    first = train_transform(48)(images)
    torch.manual_seed(3)
    second = train_transform(48)(images)
    assert torch.equal(first, second)
    assert not torch.allclose(first[0], first[1])


def test_face_tensor_dataset_yields_tensor_label_index_and_batches():
    faces = _faces()
    dataset = FaceTensorDataset(faces, eval_transform(16), image_size=16)
    image, label, index = dataset[3]
    assert image.shape == (1, 16, 16) and int(label) == 1 and int(index) == 3
    loader = torch.utils.data.DataLoader(dataset, batch_size=4)
    images, labels, indices = next(iter(loader))
    assert images.shape == (4, 1, 16, 16)
    assert labels.tolist() == [0, 1, 0, 1] and indices.tolist() == [0, 1, 2, 3]
    torch.testing.assert_close(images[2], eval_transform(16)(faces.images[2]))


def test_face_tensor_dataset_decodes_paths(tmp_path):
    from PIL import Image

    faces = _faces(n=3)
    paths = []
    for name, image in zip(faces.names, faces.images, strict=True):
        Image.fromarray(image).save(tmp_path / f"{name}.png")
        paths.append(str(tmp_path / f"{name}.png"))
    on_disk = FaceDataset(faces.class_names, faces.names, paths, faces.labels, faces.splits)
    from_disk = FaceTensorDataset(on_disk, eval_transform(20), 20)[1][0]
    torch.testing.assert_close(from_disk, FaceTensorDataset(faces, eval_transform(20), 20)[1][0])


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError, match="expected"):
        eval_transform(8)(np.zeros((1, 1, 1, 8, 8), dtype=np.uint8))
