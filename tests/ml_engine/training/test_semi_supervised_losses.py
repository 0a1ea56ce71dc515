from __future__ import annotations

import math

import pytest
import torch
from lightly.loss import NTXentLoss

from ml_engine.training.losses import info_nce


def test_info_nce_hand_computed() -> None:
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    # Views swapped: each anchor's positive is orthogonal (s = 0), one negative is
    # identical (s = 1), one orthogonal: -log(e^0 / (e^0 + e^0 + e^1)) for all 4 anchors.
    swapped = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    assert info_nce(a, swapped, temperature=1.0).item() == pytest.approx(math.log(2 + math.e), rel=1e-6)
    # Identical views: -log(e^1 / (e^1 + 2 e^0)); magnitudes do not matter (cosine).
    expected = -math.log(math.e / (math.e + 2))
    assert info_nce(3 * a, a, temperature=1.0).item() == pytest.approx(expected, rel=1e-6)
    # temperature 0.5 doubles every similarity
    expected = -math.log(math.exp(2) / (math.exp(2) + 2))
    assert info_nce(a, a, temperature=0.5).item() == pytest.approx(expected, rel=1e-6)


def test_info_nce_matches_lightly_ntxent_at_temperature_0_07() -> None:
    generator = torch.Generator().manual_seed(0)
    view_a, view_b = torch.randn(6, 16, generator=generator), torch.randn(6, 16, generator=generator)
    reference = NTXentLoss(temperature=0.07)(view_a, view_b)
    torch.testing.assert_close(info_nce(view_a, view_b, 0.07), reference, rtol=1e-5, atol=1e-5)


def test_info_nce_edge_cases_and_gradient() -> None:
    empty = torch.zeros(0, 4, requires_grad=True)
    loss = info_nce(empty, empty)
    loss.backward()
    assert loss.item() == 0.0
    single = torch.randn(1, 4, requires_grad=True)
    assert info_nce(single, torch.randn(1, 4)).item() == pytest.approx(0.0, abs=1e-6)  # no negatives
    view_a = torch.randn(4, 8, requires_grad=True)
    info_nce(view_a, torch.randn(4, 8)).backward()
    assert view_a.grad is not None and view_a.grad.abs().sum() > 0
    with pytest.raises(ValueError):
        info_nce(torch.randn(3, 4), torch.randn(2, 4))
