"""Adversarial active learning with DeepFool (DFAL; Ducoffe & Precioso, arXiv 1802.09841).

A face close to a decision boundary needs only a small perturbation to change the model's
prediction, so DFAL queries the faces with the smallest DeepFool perturbation
(Moosavi-Dezfooli et al., CVPR 2016, Alg. 2): linearise the classifier at the current point,
step to the nearest linearised boundary ``f_k = f_k_hat``
(``r = (|f'_l| / ||w'_l||) w'_l / ||w'_l||`` with ``l = argmin_k |f'_k| / ||w'_k||``), and repeat
until the prediction changes (at most 50 iterations, overshoot 0.02, as distil).

Differences from the references (docs/reference-implementations.md §2.7):
- the step follows the direction ``w'_l`` of the minimising class ``l`` for each face; the
  ej0cl6/JordanAsh code never updated its ``value_l``, so it always stepped toward the last
  class it looked at;
- many faces at once: each iteration is one forward and ``C`` backward passes for a whole
  batch (faces are independent, so ``d sum_b f_k(x_b) / d x`` holds every face's gradient),
  and faces that already flipped drop out; distil ran one image at a time;
- the model is put in eval mode (and every module's mode restored after); no parameter
  gradient is accumulated;
- the score is the norm of the final perturbation ``||(1 + overshoot) r_total||`` (distil used
  its square: the same order); faces that never flip rank after all that do.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from ml_engine.device import resolve_device
from ml_engine.strategies.base import ImageSource, SelectionInputs, check_batch_size, required
from ml_engine.strategies.margin import margins

_EPSILON = 1e-4  # added to every step, as DeepFool's reference code does, so points on a boundary move


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        yield model
    finally:
        for module, training in modes.items():
            module.train(training)


def _boundary_step(logits: torch.Tensor, inputs: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
    """One DeepFool step per face: to the nearest boundary of the linearised classifier."""
    gradients = torch.stack(
        [
            torch.autograd.grad(logits[:, k].sum(), inputs, retain_graph=k < logits.shape[1] - 1)[0].flatten(
                1
            )
            for k in range(logits.shape[1])
        ],
        dim=1,
    )  # (B, C, F)
    rows = torch.arange(len(logits), device=logits.device)
    directions = gradients - gradients[rows, original][:, None]  # w'_k
    gaps = (logits - logits[rows, original][:, None]).detach().abs()  # |f'_k|
    norms = directions.norm(dim=2).clamp_min(1e-12)
    distances = (gaps / norms).masked_fill(nn.functional.one_hot(original, logits.shape[1]).bool(), torch.inf)
    nearest = distances.argmin(dim=1)  # l, the minimising class of each face
    unit = directions[rows, nearest] / norms[rows, nearest][:, None]
    return ((distances[rows, nearest] + _EPSILON)[:, None] * unit).view_as(inputs)


def deepfool_perturbations(
    model: nn.Module, images: torch.Tensor, *, max_iterations: int = 50, overshoot: float = 0.02
) -> tuple[np.ndarray, np.ndarray]:
    """DeepFool on a batch: the perturbation norm of each face and whether its label flipped.

    Args:
        model: maps ``images`` to logits ``(B, C)``; used in eval mode.
        images: ``(B, ...)`` model inputs (eval-transformed faces, or features for a head).
        max_iterations: linearisation steps per face at most.
        overshoot: the perturbation is scaled by ``1 + overshoot`` to cross the boundary.
    """
    with _eval_mode(model):
        with torch.no_grad():
            original = model(images).argmax(dim=1)
        total = torch.zeros_like(images)
        active = torch.ones(len(images), dtype=torch.bool, device=images.device)
        for iteration in range(max_iterations + 1):
            rows = active.nonzero().squeeze(1)
            if len(rows) == 0:
                break
            x = (images[rows] + (1.0 + overshoot) * total[rows]).requires_grad_(True)
            logits = model(x)
            still = logits.argmax(dim=1) == original[rows]
            active[rows[~still]] = False
            if iteration == max_iterations or not still.any():
                break
            step = _boundary_step(logits, x, original[rows])
            total[rows[still]] += step[still].detach()
    norms = ((1.0 + overshoot) * total).flatten(1).norm(dim=1)
    return norms.cpu().numpy().astype(np.float64), (~active).cpu().numpy()


def _batch(images: ImageSource, indices: np.ndarray, device: torch.device) -> torch.Tensor:
    batch = images[torch.as_tensor(indices)] if isinstance(images, torch.Tensor) else images(indices)
    return batch.to(device=device, dtype=torch.float32)


def select_deepfool(
    inputs: SelectionInputs,
    batch_size: int,
    seed: int,
    *,
    max_iterations: int = 50,
    overshoot: float = 0.02,
    chunk_size: int = 256,
    prefilter: int | None = None,
) -> np.ndarray:
    """Smallest DeepFool perturbation first (flipped faces before unflipped; ties by index).

    Args:
        inputs: needs ``model`` and ``images``; ``probabilities`` too with ``prefilter``.
        batch_size: how many faces to pick.
        seed: unused (DeepFool is deterministic).
        max_iterations: DeepFool iterations per face at most (distil: 50).
        overshoot: DeepFool's overshoot (distil: 0.02).
        chunk_size: faces attacked at once.
        prefilter: when set, only the ``prefilter`` smallest-margin candidates are attacked
            (a large pool with a full model is otherwise ``N x iterations x (C + 1)`` passes).
    """
    check_batch_size(batch_size)
    model = required(inputs.model, "model")
    images = inputs.images
    if images is None:  # ``required`` cannot narrow a union alias: mypy infers ``object``
        raise ValueError("this strategy needs images in SelectionInputs")
    device = resolve_device(inputs.device)
    candidates = inputs.candidates()
    if prefilter is not None and prefilter < len(candidates):
        probabilities = required(inputs.probabilities, "probabilities")
        keep = np.argsort(margins(probabilities[candidates]), kind="stable")[:prefilter]
        candidates = np.sort(candidates[keep])
    norms = np.empty(len(candidates))
    flipped = np.empty(len(candidates), dtype=bool)
    model = model.to(device)
    for start in range(0, len(candidates), chunk_size):
        chunk = candidates[start : start + chunk_size]
        norms[start : start + len(chunk)], flipped[start : start + len(chunk)] = deepfool_perturbations(
            model, _batch(images, chunk, device), max_iterations=max_iterations, overshoot=overshoot
        )
    order = np.lexsort((candidates, norms, ~flipped))[: min(batch_size, len(candidates))]
    return candidates[order].astype(np.int64)
