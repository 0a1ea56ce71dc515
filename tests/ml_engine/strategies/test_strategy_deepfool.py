"""Batched DeepFool on linear models, whose minimal perturbation is known in closed form."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ml_engine.strategies.base import SelectionInputs
from ml_engine.strategies.deepfool import deepfool_perturbations, select_deepfool


def _linear(weight: list[list[float]], bias: list[float]) -> nn.Linear:
    layer = nn.Linear(len(weight[0]), len(weight))
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight))
        layer.bias.copy_(torch.tensor(bias))
    return layer


def _analytic(layer: nn.Linear, points: torch.Tensor) -> np.ndarray:
    """min over k != k_hat of |f_k - f_k_hat| / ||w_k - w_k_hat||: exact for an affine classifier."""
    with torch.no_grad():
        logits = layer(points)
        top = logits.argmax(1)
        gaps = (logits - logits.gather(1, top[:, None])).abs()
        norms = (layer.weight[None] - layer.weight[top][:, None]).norm(dim=2)
        return (
            (gaps / norms)
            .masked_fill(nn.functional.one_hot(top, logits.shape[1]).bool(), torch.inf)
            .min(1)
            .values.numpy()
        )


def test_binary_linear_model_gives_the_distance_to_the_hyperplane():
    layer = _linear([[0.0, 0.0], [3.0, 4.0]], [0.0, -5.0])  # boundary 3x + 4y = 5, ||w|| = 5
    points = torch.tensor([[0.0, 0.0], [3.0, 4.0], [1.0, 0.5], [-2.0, 1.0]])
    norms, flipped = deepfool_perturbations(layer, points)
    distance = np.abs(points.numpy() @ [3.0, 4.0] - 5.0) / 5.0
    assert flipped.all()
    np.testing.assert_allclose(norms, 1.02 * (distance + 1e-4), rtol=1e-5)


def test_multiclass_linear_model_gives_the_analytic_minimum():
    # The nearest boundary is class 1's, not the last class's: the old direction bug would differ.
    layer = _linear([[1.0, 0.0], [0.0, 1.0], [-1.0, -3.0], [-2.0, 0.5]], [0.0, 0.0, 0.0, -1.0])
    points = torch.tensor([[2.0, 1.5], [3.0, 0.2], [0.1, 2.0], [-1.0, -0.5], [0.4, -2.0]])
    norms, flipped = deepfool_perturbations(layer, points)
    assert flipped.all()
    np.testing.assert_allclose(norms, 1.02 * (_analytic(layer, points) + 1e-4), rtol=1e-5)


def test_selection_is_smallest_first_and_leaves_the_model_untouched():
    layer = _linear([[0.0, 0.0], [1.0, 0.0]], [0.0, 0.0])  # boundary x = 0
    layer.train()
    before = {k: v.clone() for k, v in layer.state_dict().items()}
    points = torch.tensor([[3.0, 0.0], [-0.5, 1.0], [0.2, 0.0], [-4.0, 2.0], [1.0, 1.0]])
    inputs = SelectionInputs(5, model=layer, images=points, excluded=np.array([2]))
    assert select_deepfool(inputs, 3, 0).tolist() == [1, 4, 0]
    assert layer.training and all(p.grad is None for p in layer.parameters())
    assert all(torch.equal(before[k], v) for k, v in layer.state_dict().items())


def test_iteration_cap_leaves_unflipped_faces_last():
    layer = _linear([[0.0], [1.0]], [0.0, 0.0])
    points = torch.tensor([[1.0], [2.0]])
    norms, flipped = deepfool_perturbations(layer, points, max_iterations=0)
    assert not flipped.any() and np.all(norms == 0)
    inputs = SelectionInputs(2, model=layer, images=lambda idx: points[torch.as_tensor(idx)])
    assert select_deepfool(inputs, 2, 0).tolist() == [0, 1]
