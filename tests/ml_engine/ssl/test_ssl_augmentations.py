"""View augmentations: grayscale stays 1-channel, views are random but seeded, ranges hold."""

from __future__ import annotations

import torch
from torchvision.transforms.v2.functional import gaussian_blur

from ml_engine.data.transforms import FACE_NORMALISATION
from ml_engine.ssl.augmentations import AugmentationConfig, ViewAugmentation, two_views


def faces(count: int = 6, size: int = 16) -> torch.Tensor:
    return torch.randint(0, 256, (count, 1, size, size), generator=torch.Generator().manual_seed(1)).to(
        torch.uint8
    )


def test_views_stay_single_channel_and_differ_between_faces_and_draws() -> None:
    torch.manual_seed(0)
    first, second = two_views(16)(faces())
    assert first.shape == second.shape == (6, 1, 16, 16)
    assert not torch.allclose(first, second)


def test_seed_reproduces_views() -> None:
    torch.manual_seed(3)
    a = two_views(16)(faces())
    torch.manual_seed(3)
    b = two_views(16)(faces())
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_identity_settings_return_the_normalised_face() -> None:
    """Full crop, no flip, no jitter: the view equals the face under the classifier's normalisation."""
    config = AugmentationConfig(min_scale=1.0, max_scale=1.0, min_ratio=1.0, flip_prob=0.0, jitter_prob=0.0)
    images = faces()
    view = ViewAugmentation(16, config)(images)
    expected = (images.float() / 255 - FACE_NORMALISATION.mean) / FACE_NORMALISATION.std
    assert torch.allclose(view, expected, atol=1e-5)


def test_flip_only_mirrors_the_face() -> None:
    config = AugmentationConfig(min_scale=1.0, max_scale=1.0, min_ratio=1.0, flip_prob=1.0, jitter_prob=0.0)
    images = faces()
    view = ViewAugmentation(16, config)(images)
    expected = (images.flip(-1).float() / 255 - FACE_NORMALISATION.mean) / FACE_NORMALISATION.std
    assert torch.allclose(view, expected, atol=1e-5)


def test_blur_is_off_by_default_and_matches_torchvision_when_on() -> None:
    assert AugmentationConfig().blur_prob == 0.0
    config = AugmentationConfig(
        min_scale=1.0,
        max_scale=1.0,
        min_ratio=1.0,
        flip_prob=0.0,
        jitter_prob=0.0,
        blur_prob=1.0,
        blur_sigma=(1.0, 1.0),
    )
    images = faces(size=48)
    view = ViewAugmentation(48, config)(images)
    reference = gaussian_blur(images.float() / 255, kernel_size=[7, 7], sigma=[1.0, 1.0])
    expected = (reference - FACE_NORMALISATION.mean) / FACE_NORMALISATION.std
    assert torch.allclose(view, expected, atol=1e-4)
