from __future__ import annotations

import numpy as np
import torch

from ml_engine.data.strong_augmentation import StrongTransform, _equalise, _photometric
from ml_engine.data.transforms import eval_transform


def test_strong_view_shape_normalisation_and_seeded_randomness() -> None:
    faces = torch.randint(0, 256, (6, 1, 24, 24), dtype=torch.uint8)
    transform = StrongTransform(16)
    torch.manual_seed(0)
    first = transform(faces)
    torch.manual_seed(0)
    second = transform(faces)
    assert first.shape == (6, 1, 16, 16) and first.dtype == torch.float32
    torch.testing.assert_close(first, second)
    assert not torch.allclose(first, eval_transform(16)(faces))  # it does augment
    low, high = (0 - 127.5) / 63.75, (255 - 127.5) / 63.75
    assert first.min() >= low - 1e-5 and first.max() <= high + 1e-5


def test_every_photometric_operation_keeps_pixels_in_range() -> None:
    torch.manual_seed(1)
    faces = torch.randint(40, 200, (4, 1, 8, 8)).float()
    for index in range(8):
        out = _photometric(faces, index)
        assert out.shape == faces.shape and out.min() >= 0 and out.max() <= 255
    torch.testing.assert_close(_photometric(faces, 0), faces)


def test_equalise_spreads_a_narrow_histogram() -> None:
    face = torch.tensor(np.repeat([100.0, 101.0, 102.0, 103.0], 4).reshape(1, 1, 4, 4))
    out = _equalise(face)
    assert out.min() == 0 and out.max() == 255
    assert torch.equal(out.flatten().sort().values, out.flatten())  # order preserved


def test_cutout_fills_a_square_with_mid_gray() -> None:
    transform = StrongTransform(32, max_cutout=0.5)
    torch.manual_seed(3)
    out = transform._cutout(torch.zeros(8, 1, 32, 32))
    assert set(out.unique().tolist()) == {0.0, 127.0}
    for mask in out[:, 0] == 127.0:
        rows = mask.any(dim=1).nonzero().flatten().tolist()
        columns = mask.any(dim=0).nonzero().flatten().tolist()
        if not rows:
            continue  # a side drawn near zero covers no pixel centre
        # One solid box: every pixel between its first and last row and column is filled.
        assert rows == list(range(rows[0], rows[-1] + 1)) and columns == list(
            range(columns[0], columns[-1] + 1)
        )
        assert int(mask.sum()) == len(rows) * len(columns)
        # A square of side at most half the image: pixel centres inside it differ by at most one per axis,
        # unless an edge of the image cuts it.
        assert max(len(rows), len(columns)) <= 17
        if {rows[0], columns[0]}.isdisjoint({0}) and {rows[-1], columns[-1]}.isdisjoint({31}):
            assert abs(len(rows) - len(columns)) <= 1
