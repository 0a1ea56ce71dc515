"""Settings of one self-supervised pre-training run (shared by every method).

Defaults follow seed 000 and ActiveFER's SimCLR (temperature 0.1, no blur, crops of scale
0.2-1 at the native 48 px; docs/reference-implementations.md §1.2) and lightly's CIFAR-10 benchmark
for what the paper leaves open (SGD, lr 0.06 x batch/128, weight decay 5e-4, cosine
schedule). A value of ``None`` means "the method's own default" (see each method's
``DEFAULTS``), so one config can drive all five methods.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ml_engine.ssl.augmentations import AugmentationConfig


@dataclass
class PretrainConfig:
    """Everything needed to run (and resume) a pre-training job.

    Attributes:
        method: registered method name ("simclr", "moco", "byol", "swav", "barlow_twins").
        model: classifier registry name whose ``.backbone`` is trained ("resnet18", "small_cnn").
        model_kwargs: extra ``create_model`` arguments (for example ``{"stem": "compact"}``).
        image_size: side of the (square, grayscale) views in pixels.
        epochs: passes over the dataset.
        batch_size: faces per step (each gives two or more views).
        learning_rate: peak SGD learning rate; ``None`` means ``0.06 * batch_size / 128``.
        weight_decay: SGD weight decay.
        momentum: SGD momentum.
        warmup_epochs: linear learning-rate warm-up before the cosine decay.
        temperature: softmax temperature (SimCLR, MoCo, SwAV); ``None``: the method default.
        hidden_dim: projection head hidden width; ``None``: the method default.
        output_dim: projection head output width; ``None``: the method default.
        memory_bank_size: MoCo's queue length (lightly 1.6 wants ``(size, dim)``; built from this).
        ema_momentum: start of the cosine schedule of the momentum encoder (MoCo, BYOL), ends at 1.
        n_prototypes: SwAV prototypes.
        barlow_lambda: Barlow Twins off-diagonal weight (Eq. 7 of seed 000).
        augmentation: view augmentation settings.
        seed: seeds weights, sampling order and augmentation.
        num_workers: DataLoader workers (0 on small CPUs; several on GPU machines).
        amp: mixed precision; ``None`` means on for CUDA, off otherwise.
    """

    method: str = "simclr"
    model: str = "resnet18"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    image_size: int = 48
    epochs: int = 100
    batch_size: int = 256
    learning_rate: float | None = None
    weight_decay: float = 5e-4
    momentum: float = 0.9
    warmup_epochs: int = 0
    temperature: float | None = None
    hidden_dim: int | None = None
    output_dim: int | None = None
    memory_bank_size: int = 4096
    ema_momentum: float = 0.99
    n_prototypes: int = 512
    barlow_lambda: float = 5e-3
    augmentation: AugmentationConfig = field(default_factory=AugmentationConfig)
    seed: int = 0
    num_workers: int = 0
    amp: bool | None = None

    def __post_init__(self) -> None:
        if isinstance(self.augmentation, dict):
            self.augmentation = AugmentationConfig(**self.augmentation)
        if self.epochs < 1 or self.batch_size < 2:
            raise ValueError("epochs must be >= 1 and batch_size >= 2 (contrastive losses need pairs)")

    @property
    def peak_learning_rate(self) -> float:
        """The learning rate after warm-up (lightly's linear scaling rule when not given)."""
        return self.learning_rate if self.learning_rate is not None else 0.06 * self.batch_size / 128

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy (stored in checkpoints and embedding metadata)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PretrainConfig:
        """Rebuild a config stored by :meth:`to_dict`."""
        return cls(**values)
