"""Dataset distillation (Wang et al. 2018, Alg. 1): gradients through the unroll, step sizes, a toy run."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ml_engine.distillation import ConvNet, DistillationConfig, distill, distilled_accuracy
from ml_engine.distillation.distill import (
    SyntheticData,
    distillation_loss,
    fresh_parameters,
    synthetic_labels,
)


def tiny_mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))


def one_step_problem() -> tuple[
    nn.Module, dict[str, torch.Tensor], SyntheticData, torch.Tensor, torch.Tensor
]:
    torch.manual_seed(0)
    network = tiny_mlp().double()
    params = fresh_parameters(tiny_mlp, torch.zeros(1, dtype=torch.float64))
    synthetic = SyntheticData(torch.randn(1, 2, 3, dtype=torch.float64), synthetic_labels(2, 1, 1), 1, 0.3)
    real = torch.randn(8, 3, dtype=torch.float64)
    return network, params, synthetic, real, (real[:, 0] > 0).long()


def test_gradient_through_one_step_unroll_matches_finite_differences() -> None:
    network, params, synthetic, real, labels = one_step_problem()
    loss = distillation_loss(network, params, synthetic, real, labels)
    image_grad, step_grad = torch.autograd.grad(loss, [synthetic.images, synthetic.raw_step_sizes])

    def loss_at() -> float:
        with torch.enable_grad():
            return distillation_loss(network, params, synthetic, real, labels).item()

    epsilon = 1e-6
    numeric = torch.zeros_like(synthetic.images)
    with torch.no_grad():
        for index in range(synthetic.images.numel()):
            flat = synthetic.images.view(-1)
            flat[index] += epsilon
            above = loss_at()
            flat[index] -= 2 * epsilon
            below = loss_at()
            flat[index] += epsilon
            numeric.view(-1)[index] = (above - below) / (2 * epsilon)
        synthetic.raw_step_sizes += epsilon
        above = loss_at()
        synthetic.raw_step_sizes -= 2 * epsilon
        below = loss_at()
        synthetic.raw_step_sizes += epsilon
    torch.testing.assert_close(image_grad, numeric, rtol=1e-6, atol=1e-9)
    torch.testing.assert_close(
        step_grad, torch.tensor([(above - below) / (2 * epsilon)], dtype=torch.float64)
    )
    assert image_grad.abs().max() > 1e-4  # the check compares something non-trivial


def test_one_step_unroll_equals_a_hand_written_sgd_step() -> None:
    network, params, synthetic, real, labels = one_step_problem()
    inner = F.cross_entropy(
        torch.func.functional_call(network, params, (synthetic.images[0],)), synthetic.labels[0]
    )
    grads = torch.autograd.grad(inner, list(params.values()))
    stepped = {name: value - 0.3 * grad for (name, value), grad in zip(params.items(), grads, strict=True)}
    expected = F.cross_entropy(torch.func.functional_call(network, stepped, (real,)), labels)
    torch.testing.assert_close(distillation_loss(network, params, synthetic, real, labels), expected)


def test_softplus_step_sizes_start_at_their_initial_value() -> None:
    for initial in (0.001, 0.02, 1.0, 30.0):
        synthetic = SyntheticData(
            torch.zeros(2, 3, 1, dtype=torch.float64), synthetic_labels(3, 1, 2), 6, initial
        )
        torch.testing.assert_close(synthetic.step_sizes(), torch.full((6,), initial, dtype=torch.float64))


def test_labels_are_grouped_by_class_in_every_step() -> None:
    assert synthetic_labels(3, 2, 2).tolist() == [[0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 2, 2]]


def two_blobs(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(count) % 2
    centres = torch.tensor([[-1.5, 1.0], [1.5, -1.0]])
    return centres[labels] + torch.randn(count, 2, generator=generator), labels


def blob_network() -> nn.Module:
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))


def test_ten_distilled_points_train_a_fresh_network_far_above_chance() -> None:
    train_x, train_y = two_blobs(2000, seed=0)
    test_x, test_y = two_blobs(1000, seed=1)
    config = DistillationConfig(
        images_per_class=1,
        steps=5,
        epochs=1,
        iterations=150,
        batch_size=256,
        initial_step_size=0.1,
        learning_rate=0.05,
    )
    distilled = distill(config, train_x, train_y, 2, blob_network)
    assert distilled.images.shape == (5, 2, 2)
    assert distilled.images.shape[0] * distilled.images.shape[1] == 10
    assert distilled.step_sizes.shape == (5,) and (distilled.step_sizes > 0).all()
    accuracies = distilled_accuracy(distilled, blob_network, test_x, test_y, networks=5)
    assert min(accuracies) >= 0.85, accuracies
    assert distilled.losses[-1] < distilled.losses[0]


def test_convnet_distils_48_pixel_faces_and_keeps_the_layout() -> None:
    faces = torch.randn(12, 1, 48, 48)
    labels = torch.arange(12) % 3
    config = DistillationConfig(
        images_per_class=2, steps=2, epochs=2, iterations=2, batch_size=6, init="real"
    )
    distilled = distill(config, faces, labels, 3, lambda: ConvNet(3, width=4, depth=3))
    assert distilled.images.shape == (2, 6, 1, 48, 48)
    assert distilled.step_sizes.shape == (4,)
    assert len(distilled.losses) == 2
