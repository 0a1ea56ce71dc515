"""Each SSL method: its loss falls on a toy set, and its pieces behave as the papers say."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from lightly.loss.swav_loss import sinkhorn

from ml_engine.models import create_model
from ml_engine.ssl import AugmentationConfig, PretrainConfig, create_method, list_methods

LIGHT_AUGMENTATION = AugmentationConfig(min_scale=0.6, jitter_prob=0.5, brightness=0.2, contrast=0.2)

# Learning rates that a 16-px toy problem tolerates (MoCo collapses at 0.1 with batch 32; its queue wants a smaller step).
TOY_LEARNING_RATE = {"simclr": 0.1, "moco": 0.01, "byol": 0.1, "swav": 0.03, "barlow_twins": 0.1}


def toy_faces(count: int = 128, size: int = 16, seed: int = 0) -> torch.Tensor:
    """Distinct smooth random images (4x4 noise upsampled): instance discrimination is learnable."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(count, 1, 4, 4, generator=generator)
    return (torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear") * 255).to(torch.uint8)


def toy_method(name: str, **overrides):
    config = PretrainConfig(
        method=name,
        model="small_cnn",
        image_size=16,
        batch_size=32,
        hidden_dim=32,
        output_dim=16,
        memory_bank_size=64,
        n_prototypes=8,
        ema_momentum=0.9,
        augmentation=LIGHT_AUGMENTATION,
        **overrides,
    )
    torch.manual_seed(0)
    model = create_model("small_cnn", 1, width=16)
    return create_method(config, model.backbone, model.embedding_dim)


def test_all_five_methods_are_registered() -> None:
    assert list_methods() == ["barlow_twins", "byol", "moco", "simclr", "swav"]


@pytest.mark.parametrize("name", ["simclr", "moco", "byol", "swav", "barlow_twins"])
def test_loss_falls_on_toy_faces(name: str) -> None:
    method = toy_method(name)
    faces = toy_faces()
    optimiser = torch.optim.SGD(
        [p for p in method.parameters() if p.requires_grad], lr=TOY_LEARNING_RATE[name], momentum=0.9
    )
    augment, losses, steps = method.view_augmentation(), [], 40
    for step in range(steps):
        loss = method.loss(augment(faces[(step % 4) * 32 : (step % 4 + 1) * 32]))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        method.on_step_end(step, steps)
        losses.append(loss.item())
    # MoCo's queue starts as random vectors (an easy loss) and holds real keys after 2 steps.
    early, late = np.mean(losses[4:9]), np.mean(losses[-5:])
    assert np.isfinite(losses).all()
    assert late < early - 0.1 * abs(early), (early, late)


def test_moco_queue_is_a_tuple_sized_bank_and_survives_a_state_dict_round_trip() -> None:
    method = toy_method("moco")
    bank = method.criterion.memory_bank
    assert tuple(bank.bank.shape) == (64, 16)
    method.loss(method.view_augmentation()(toy_faces(32)))
    state = method.state_dict()
    restored = toy_method("moco")
    assert not torch.equal(restored.criterion.memory_bank.bank, bank.bank)
    restored.load_state_dict(state)
    assert torch.equal(restored.criterion.memory_bank.bank, bank.bank)
    assert int(restored.criterion.memory_bank.bank_ptr) == 32


def test_momentum_update_follows_eq5() -> None:
    method = toy_method("byol")
    online = next(method.backbone.parameters()).detach().clone()
    with torch.no_grad():
        next(method.backbone.parameters()).add_(1.0)
    target_before = next(method.backbone_momentum.parameters()).detach().clone()
    method.on_step_end(0, 10)  # cosine schedule at step 0: m = ema_momentum = 0.9
    expected = 0.9 * target_before + 0.1 * (online + 1.0)
    assert torch.allclose(next(method.backbone_momentum.parameters()), expected, atol=1e-6)
    assert not next(method.backbone_momentum.parameters()).requires_grad


def test_swav_scores_stay_fp32_under_half_precision_autocast() -> None:
    """Sinkhorn's exp(s / 0.05) overflows fp16; the method computes it in fp32 anyway."""
    scores = torch.ones(4, 8, dtype=torch.float16)
    assert not torch.isfinite(sinkhorn(scores)).all()  # the pitfall this guards against
    method = toy_method("swav")
    views = method.view_augmentation()(toy_faces(8))
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        loss = method.loss(views)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)


def test_swav_makes_two_global_and_four_half_size_views() -> None:
    views = toy_method("swav").view_augmentation()(toy_faces(4))
    assert [tuple(view.shape) for view in views] == [(4, 1, 16, 16)] * 2 + [(4, 1, 8, 8)] * 4
