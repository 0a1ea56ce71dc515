"""Dataset distillation by unrolled gradient descent (Wang, Zhu, Torralba, Efros 2018, Alg. 1).

The learnables are ``steps`` batches of synthetic images, ``images_per_class`` per class in
each (labels fixed to ``[0, 0, .., 1, 1, ..]``), and one step size per inner step, ``T =
steps x epochs`` of them (the batches are replayed ``epochs`` times, each replay with its
own step sizes). One outer iteration (Alg. 1, lines 3-9 of Liu et al.'s restatement):

1. draw a fresh initialisation ``θ_0 ~ p(θ)`` (the paper's "unknown initialisation": the
   images must teach *any* network of the family, not one fixed start);
2. unroll ``θ_{t+1} = θ_t - η_t ∇_θ CE(f(x̃_t; θ_t), ỹ_t)`` for ``t < T`` keeping the graph;
3. score ``θ_T`` on a batch of real faces, ``L = CE(f(x; θ_T), y)``;
4. step Adam on ``x̃`` and ``η`` along ``∇L`` (autograd through the unroll; the reference
   code wrote the same Hessian-vector products by hand).

Step sizes are ``η = softplus(r)`` with ``r`` initialised to ``softplus⁻¹(η_0)``, so they
stay positive and start at exactly ``η_0``. The network runs through
``torch.func.functional_call`` with the unrolled weights; it must not have BatchNorm (its
running statistics would be state outside the unroll), hence :class:`ConvNet`.
Defaults are the reference's (10 steps, 3 epochs, η_0 0.02, Adam 0.01 with betas (0.5,
0.999), real batches of 1024 on a GPU; halve the rate at a fixed period).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from ml_engine.device import resolve_device
from ml_engine.progress import CancelFlag, Cancelled, Progress, ProgressCallback

NetworkFactory = Callable[[], nn.Module]
"""Builds a freshly initialised network: one draw from ``p(θ)``."""

Parameters = dict[str, torch.Tensor]


@dataclass
class DistillationConfig:
    """Settings of one distillation run (defaults: Wang et al.'s code).

    Attributes:
        images_per_class: synthetic images of each class in one inner step's batch.
        steps: distinct synthetic batches (inner steps per replay).
        epochs: replays of the ``steps`` batches; ``T = steps x epochs`` step sizes.
        initial_step_size: ``η_0``, every step size's starting value.
        iterations: outer iterations (one real batch each).
        batch_size: real faces per outer iteration.
        learning_rate: Adam's rate on the images and step sizes.
        decay_every: halve that rate every this many iterations (None: never).
        networks: initialisations sampled per iteration; their losses are averaged.
        init: "noise" (standard normal, as the reference) or "real" (random real faces
            of each class, which converges faster on a small budget).
        seed: seeds the synthetic images, the initialisations and the real batches.
    """

    images_per_class: int = 1
    steps: int = 10
    epochs: int = 3
    initial_step_size: float = 0.02
    iterations: int = 1000
    batch_size: int = 1024
    learning_rate: float = 0.01
    decay_every: int | None = None
    networks: int = 1
    init: str = "noise"
    seed: int = 0


@dataclass
class DistilledSet:
    """The result: synthetic images, their labels and the learned step sizes.

    Attributes:
        images: ``(steps, C x images_per_class, *shape)`` synthetic inputs, detached, on the CPU.
        labels: ``(steps, C x images_per_class)`` int64, ``[0, .., 0, 1, ..]`` per step.
        step_sizes: ``(steps x epochs,)`` learned ``η_t``.
        epochs: replays of the steps.
        num_classes: ``C``.
        losses: the real-batch loss of every outer iteration.
    """

    images: torch.Tensor
    labels: torch.Tensor
    step_sizes: torch.Tensor
    epochs: int
    num_classes: int
    losses: list[float] = field(default_factory=list)


def inverse_softplus(value: float) -> float:
    """``r`` with ``softplus(r) = value`` (``log(expm1(value))``, computed stably)."""
    if value <= 0:
        raise ValueError(f"a step size must be positive, got {value}")
    return value + math.log(-math.expm1(-value))


class SyntheticData(nn.Module):
    """The learnables of Alg. 1: synthetic images ``x̃`` and raw step sizes ``r`` (``η = softplus(r)``)."""

    labels: torch.Tensor  # a buffer: moves with the module, never learned

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, step_count: int, initial_step_size: float):
        super().__init__()
        self.images = nn.Parameter(images)
        self.register_buffer("labels", labels)
        raw = torch.full((step_count,), inverse_softplus(initial_step_size), dtype=images.dtype)
        self.raw_step_sizes = nn.Parameter(raw.to(images.device))

    def step_sizes(self) -> torch.Tensor:
        return F.softplus(self.raw_step_sizes)


def synthetic_labels(num_classes: int, images_per_class: int, steps: int) -> torch.Tensor:
    """``(steps, C x images_per_class)``: each step's batch holds every class, grouped."""
    one_step = torch.arange(num_classes).repeat_interleave(images_per_class)
    return one_step.repeat(steps, 1)


def fresh_parameters(factory: NetworkFactory, like: torch.Tensor) -> Parameters:
    """A new draw ``θ_0 ~ p(θ)`` as leaf tensors on ``like``'s device and dtype."""
    network = factory()
    return {
        name: value.detach().to(device=like.device, dtype=like.dtype).requires_grad_()
        for name, value in network.named_parameters()
    }


def unroll(
    network: nn.Module,
    params: Parameters,
    images: torch.Tensor,
    labels: torch.Tensor,
    step_sizes: torch.Tensor,
    *,
    create_graph: bool,
) -> Parameters:
    """``T`` SGD steps on the synthetic batches: ``θ_{t+1} = θ_t - η_t ∇CE(f(x̃_{t mod steps}; θ_t))``.

    With ``create_graph`` the result stays differentiable with respect to the images, the
    step sizes and ``θ_0``; without it every step is detached (plain training).
    """
    for index, step_size in enumerate(step_sizes):
        batch = index % len(images)
        loss = F.cross_entropy(functional_call(network, params, (images[batch],)), labels[batch])
        grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
        params = {
            name: value - step_size * grad for (name, value), grad in zip(params.items(), grads, strict=True)
        }
        if not create_graph:
            params = {name: value.detach().requires_grad_() for name, value in params.items()}
    return params


def distillation_loss(
    network: nn.Module,
    params: Parameters,
    synthetic: SyntheticData,
    real_images: torch.Tensor,
    real_labels: torch.Tensor,
) -> torch.Tensor:
    """``L = CE(f(x; θ_T), y)`` on real faces after the unroll from ``params`` (Alg. 1, lines 6-7)."""
    final = unroll(
        network, params, synthetic.images, synthetic.labels, synthetic.step_sizes(), create_graph=True
    )
    return F.cross_entropy(functional_call(network, final, (real_images,)), real_labels)


def distill(
    config: DistillationConfig,
    images: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    network_factory: NetworkFactory,
    *,
    device: str | torch.device = "cpu",
    progress: ProgressCallback | None = None,
    cancel: CancelFlag | None = None,
) -> DistilledSet:
    """Distil ``(images, labels)`` into ``steps x images_per_class`` synthetic images per class.

    Args:
        config: the run's settings.
        images: ``(N, *shape)`` training inputs, already normalised (faces: ``(N, 1, 48, 48)``).
        labels: ``(N,)`` classes in ``[0, C)``.
        num_classes: ``C``.
        network_factory: builds a freshly initialised BatchNorm-free network.
        device: where the unroll runs; the result is moved to the CPU.
        progress: called after every outer iteration with stage "distill".
        cancel: checked before every outer iteration; raises :class:`Cancelled`.
    """
    if len(images) != len(labels) or len(images) == 0:
        raise ValueError(f"need matching, non-empty images and labels, got {len(images)} and {len(labels)}")
    generator = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    target = resolve_device(device)
    synthetic = _initial_synthetic(config, images, labels, num_classes, generator).to(target)
    network = network_factory().to(device=target, dtype=images.dtype)
    optimizer = torch.optim.Adam(synthetic.parameters(), lr=config.learning_rate, betas=(0.5, 0.999))
    period = config.decay_every or config.iterations + 1
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=period, gamma=0.5)
    losses: list[float] = []
    for iteration in range(1, config.iterations + 1):
        if cancel is not None and cancel():
            raise Cancelled(f"distillation cancelled at iteration {iteration} of {config.iterations}")
        rows = torch.randint(len(images), (min(config.batch_size, len(images)),), generator=generator)
        real_images, real_labels = images[rows].to(target), labels[rows].to(target)
        optimizer.zero_grad()
        total = 0.0
        for _ in range(config.networks):
            params = fresh_parameters(network_factory, synthetic.images)
            loss = distillation_loss(network, params, synthetic, real_images, real_labels) / config.networks
            loss.backward()
            total += loss.item()
        optimizer.step()
        scheduler.step()
        losses.append(total)
        if progress is not None:
            progress(Progress("distill", 1, 1, iteration, config.iterations, total))
    return DistilledSet(
        images=synthetic.images.detach().cpu(),
        labels=synthetic.labels.cpu(),
        step_sizes=synthetic.step_sizes().detach().cpu(),
        epochs=config.epochs,
        num_classes=num_classes,
        losses=losses,
    )


def _initial_synthetic(
    config: DistillationConfig,
    images: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    generator: torch.Generator,
) -> SyntheticData:
    """Synthetic batches drawn from noise or from real faces of each class (noise where a class has none)."""
    if config.init not in ("noise", "real"):
        raise ValueError(f"unknown init {config.init!r}; choose 'noise' or 'real'")
    synthetic_y = synthetic_labels(num_classes, config.images_per_class, config.steps)
    shape = (*synthetic_y.shape, *images.shape[1:])
    start = torch.randn(shape, generator=generator, dtype=images.dtype)
    if config.init == "real":
        for label in range(num_classes):
            members = torch.nonzero(labels == label).flatten()
            slots = synthetic_y == label
            if len(members):
                picks = members[torch.randint(len(members), (int(slots.sum()),), generator=generator)]
                start[slots] = images[picks].to(start.dtype)
    return SyntheticData(start, synthetic_y, config.steps * config.epochs, config.initial_step_size)


def train_on_distilled(
    distilled: DistilledSet, network_factory: NetworkFactory, *, seed: int = 0
) -> nn.Module:
    """A fresh network trained only by replaying the ``T`` steps with the learned step sizes."""
    torch.manual_seed(seed)
    network = network_factory().to(distilled.images.dtype)
    params = fresh_parameters(lambda: network, distilled.images)
    final = unroll(
        network, params, distilled.images, distilled.labels, distilled.step_sizes, create_graph=False
    )
    with torch.no_grad():
        for name, value in network.named_parameters():
            value.copy_(final[name])
    return network.eval()


@torch.no_grad()
def accuracy(network: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1024) -> float:
    """Fraction of ``images`` the network classifies as ``labels``."""
    dtype = next(network.parameters()).dtype
    correct = sum(
        int(
            (
                network(images[start : start + batch_size].to(dtype)).argmax(dim=1)
                == labels[start : start + batch_size]
            ).sum()
        )
        for start in range(0, len(images), batch_size)
    )
    return correct / max(1, len(images))


def distilled_accuracy(
    distilled: DistilledSet,
    network_factory: NetworkFactory,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    networks: int = 5,
    seed: int = 0,
) -> list[float]:
    """Test accuracy of ``networks`` fresh networks (seeds ``seed, seed+1, ..``) trained on the set."""
    return [
        accuracy(train_on_distilled(distilled, network_factory, seed=seed + offset), images, labels)
        for offset in range(networks)
    ]
