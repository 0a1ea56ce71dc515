"""Start from a ResNet-18 of one's own: a torchvision or timm state dict, adapted to grayscale faces.

Teams often have weights already: ImageNet weights, or a face-recognition ResNet-18 such as
the MS-Celeb-1M network that Ada-CM (Li et al., *Ada-CM: Semi-Supervised Facial Expression
Recognition with an Adaptive Confidence Margin*, §4.1) fine-tunes from. torchvision and timm
name a ResNet-18's layers alike (``conv1``, ``bn1``, ``layer1.0.conv1`` ... ``fc``), which are
also the names of FaceLoop's ``resnet18`` backbone, so such a file loads by name once two
things are settled:

* **Grayscale.** FaceLoop's faces have one channel. An RGB first convolution ``W`` of shape
  ``(64, 3, k, k)`` becomes ``W.sum(dim=1, keepdim=True)``: for a gray image ``x``,
  ``conv(x, sum_c W_c) = sum_c conv(x, W_c) = conv([x, x, x], W)``, so the adapted network
  answers a gray face exactly as the RGB network answers that face replicated on three
  channels.
* **The head.** ``fc.*`` (ImageNet's 1,000 classes, or a face-identity layer) is left out and
  said so; the expression head starts afresh.

The file is read with ``torch.load(weights_only=True)``: tensors and plain containers only, so
a file carrying a pickled program is refused instead of run. Every other key must then match
the backbone by name and shape (:func:`~ml_engine.models.weights.load_backbone_weights`), and
a mismatch names the keys, for instance a 7x7 ImageNet stem offered to a ``compact`` or
``cifar`` backbone.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import torch

_CONTAINER_KEYS = ("state_dict", "model", "model_state_dict", "net")
"""Where common training scripts keep the weights inside a checkpoint dict."""

_HEAD_PREFIX = "fc."
_STEM_KEY = "conv1.weight"


class ExternalWeightsError(ValueError):
    """The file cannot be used as ResNet-18 weights, with the reason."""


@dataclass(frozen=True)
class ExternalWeights:
    """A state dict ready for :func:`~ml_engine.models.weights.load_backbone_weights`.

    Attributes:
        state_dict: backbone weights, named as FaceLoop's ``resnet18`` backbone.
        left_out: keys of the file that were not kept (the classification head).
        adapted: keys that were changed to fit, with how (the RGB stem summed to one channel).
    """

    state_dict: dict[str, torch.Tensor]
    left_out: tuple[str, ...]
    adapted: tuple[str, ...]


def gray_stem(weight: torch.Tensor) -> torch.Tensor:
    """An RGB first convolution ``(O, 3, k, k)`` as its one-channel equivalent ``(O, 1, k, k)``."""
    if weight.ndim != 4 or weight.shape[1] != 3:
        raise ExternalWeightsError(f"{_STEM_KEY} has shape {tuple(weight.shape)}; expected (out, 3, k, k)")
    return weight.sum(dim=1, keepdim=True)


def read_external_resnet18(path: str | os.PathLike[str], *, in_channels: int = 1) -> ExternalWeights:
    """The ResNet-18 weights in the file at ``path``, adapted to ``in_channels`` input channels.

    Raises:
        ExternalWeightsError: the file is not a plain state dict of tensors (a pickle payload,
            another format), or it holds no ResNet-18 stem.
    """
    return adapt_resnet18_state(_unwrap(load_weights_file(path)), in_channels=in_channels)


def load_weights_file(path: str | os.PathLike[str]) -> object:
    """``torch.load`` of tensors and plain containers only, with a clear error for anything else.

    Raises:
        ExternalWeightsError: the file holds pickled objects (which could run code) or is no
            PyTorch file at all.
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except MemoryError:
        raise
    except Exception as error:
        # (UnpicklingError, KeyError, IndexError, UnicodeDecodeError...); each means "not weights"
        raise ExternalWeightsError(
            f"{os.fspath(path)} is not a plain PyTorch state dict (only tensors and containers are "
            f"read, never pickled code): {str(error).splitlines()[0]}"
        ) from None


def adapt_resnet18_state(state_dict: Mapping[str, torch.Tensor], *, in_channels: int = 1) -> ExternalWeights:
    """Drop the ``fc`` head and fit the stem to ``in_channels``; other keys pass unchanged."""
    weights = {_without_wrappers(key): value for key, value in state_dict.items()}
    if _STEM_KEY not in weights:
        raise ExternalWeightsError(f"no {_STEM_KEY!r}: this is not a torchvision or timm ResNet state dict")
    left_out = tuple(sorted(key for key in weights if key.startswith(_HEAD_PREFIX)))
    kept = {key: value for key, value in weights.items() if not key.startswith(_HEAD_PREFIX)}
    adapted: tuple[str, ...] = ()
    if kept[_STEM_KEY].shape[1] == 3 and in_channels == 1:
        kept[_STEM_KEY] = gray_stem(kept[_STEM_KEY])
        adapted = (f"{_STEM_KEY}: RGB summed to one channel",)
    return ExternalWeights(kept, left_out, adapted)


def is_resnet_state(payload: object) -> bool:
    """Whether ``payload`` (as ``torch.load`` returned it) holds a torchvision/timm ResNet stem."""
    try:
        return _STEM_KEY in {_without_wrappers(key) for key in _unwrap(payload)}
    except ExternalWeightsError:
        return False


def _unwrap(payload: object) -> Mapping[str, torch.Tensor]:
    """The tensor mapping inside a checkpoint dict (``{"state_dict": ...}`` and the like)."""
    while isinstance(payload, Mapping):
        inner = next((payload[key] for key in _CONTAINER_KEYS if isinstance(payload.get(key), Mapping)), None)
        if inner is None:
            break
        payload = inner
    if not isinstance(payload, Mapping) or not all(
        isinstance(value, torch.Tensor) for value in payload.values()
    ):
        raise ExternalWeightsError("the file holds no mapping of parameter names to tensors")
    return payload


def _without_wrappers(key: str) -> str:
    for prefix in ("module.", "_orig_mod."):  # DataParallel and torch.compile wrappers
        if key.startswith(prefix):
            return _without_wrappers(key[len(prefix) :])
    return key
