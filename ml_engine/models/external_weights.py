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
a file carrying a pickled program is refused instead of run, and only once its archive is
known to unpack within bounds (:mod:`ml_engine.safe_load`). Whatever the pickle then built
is walked with bounds too: a checkpoint dict that holds itself, a parameter name wrapped in
``module.`` a thousand times, or a million tensors are refused with a sentence. Every other key must then match
the backbone by name and shape (:func:`~ml_engine.models.weights.load_backbone_weights`), and
a mismatch names the keys, for instance a 7x7 ImageNet stem offered to a ``compact`` or
``cifar`` backbone.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

import torch

from ml_engine.safe_load import DEFAULT_MAX_UNPACKED_BYTES, WeightsFileError, load_weights_safely

_CONTAINER_KEYS = ("state_dict", "model", "model_state_dict", "net")
"""Where common training scripts keep the weights inside a checkpoint dict."""

_HEAD_PREFIX = "fc."
_STEM_KEY = "conv1.weight"
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")  # DataParallel and torch.compile wrappers

MAX_CONTAINER_DEPTH = 4
"""Checkpoint dicts followed to reach the weights (``{"model": {"state_dict": ...}}`` is two)."""
MAX_WRAPPERS = 8
"""Wrapper prefixes removed from one parameter name; a real one has one or two."""
MAX_TENSORS = 10_000
"""Tensors a backbone file may hold: a ResNet-18 has 122, a ResNet-152 about a thousand."""
MAX_KEY_LENGTH = 512
"""Characters in one parameter name once its wrappers are removed."""


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


def read_external_resnet18(
    path: str | os.PathLike[str] | BinaryIO,
    *,
    in_channels: int = 1,
    max_unpacked_bytes: int = DEFAULT_MAX_UNPACKED_BYTES,
) -> ExternalWeights:
    """The ResNet-18 weights in the file at ``path``, adapted to ``in_channels`` input channels.

    Raises:
        ExternalWeightsError: the file is not a plain state dict of tensors (a pickle payload,
            another format), unpacks past ``max_unpacked_bytes``, or holds no ResNet-18 stem.
    """
    payload = load_weights_file(path, max_unpacked_bytes=max_unpacked_bytes)
    return adapt_resnet18_state(_unwrap(payload), in_channels=in_channels)


def load_weights_file(
    path: str | os.PathLike[str] | BinaryIO, *, max_unpacked_bytes: int = DEFAULT_MAX_UNPACKED_BYTES
) -> object:
    """Tensors and plain containers only, bounded before unpickling (:mod:`ml_engine.safe_load`).

    Raises:
        ExternalWeightsError: the file holds pickled objects (which could run code), unpacks
            past the bound, or is no PyTorch file at all; the message names no path.
    """
    try:
        return load_weights_safely(path, max_unpacked_bytes=max_unpacked_bytes)
    except WeightsFileError as error:
        raise ExternalWeightsError(str(error)) from None


def adapt_resnet18_state(state_dict: Mapping[str, torch.Tensor], *, in_channels: int = 1) -> ExternalWeights:
    """Drop the ``fc`` head and fit the stem to ``in_channels``; other keys pass unchanged."""
    weights = dict(_checked_entries(state_dict))
    if _STEM_KEY not in weights:
        raise ExternalWeightsError(f"no {_STEM_KEY!r}: this is not a torchvision or timm ResNet state dict")
    left_out = tuple(sorted(key for key in weights if key.startswith(_HEAD_PREFIX)))
    kept = {key: value for key, value in weights.items() if not key.startswith(_HEAD_PREFIX)}
    adapted: tuple[str, ...] = ()
    if tuple(kept[_STEM_KEY].shape[1:2]) == (3,) and in_channels == 1:
        kept[_STEM_KEY] = gray_stem(kept[_STEM_KEY])
        adapted = (f"{_STEM_KEY}: RGB summed to one channel",)
    return ExternalWeights(kept, left_out, adapted)


def is_resnet_state(payload: object) -> bool:
    """Whether ``payload`` (as ``torch.load`` returned it) holds a torchvision/timm ResNet stem."""
    try:
        return _STEM_KEY in {key for key, _ in _checked_entries(_unwrap(payload))}
    except ExternalWeightsError:
        return False


def _unwrap(payload: object) -> Mapping[str, torch.Tensor]:
    """The tensor mapping inside a checkpoint dict (``{"state_dict": ...}`` and the like).

    At most :data:`MAX_CONTAINER_DEPTH` containers deep, and a container met twice (a dict
    that holds itself, which a pickle can build) is refused instead of followed forever.
    """
    seen: set[int] = set()
    for _ in range(MAX_CONTAINER_DEPTH + 1):
        if not isinstance(payload, Mapping):
            break
        if id(payload) in seen:
            raise ExternalWeightsError("the file's containers hold themselves: there are no weights to find")
        seen.add(id(payload))
        inner = next((payload[key] for key in _CONTAINER_KEYS if isinstance(payload.get(key), Mapping)), None)
        if inner is None:
            break
        payload = inner
    else:
        raise ExternalWeightsError(
            f"the weights are nested more than {MAX_CONTAINER_DEPTH} containers deep "
            f"({', '.join(_CONTAINER_KEYS)})"
        )
    if not isinstance(payload, Mapping) or not all(
        isinstance(value, torch.Tensor) for value in payload.values()
    ):
        raise ExternalWeightsError("the file holds no mapping of parameter names to tensors")
    return payload


def _checked_entries(state_dict: Mapping[Any, torch.Tensor]) -> list[tuple[str, torch.Tensor]]:
    """The entries of ``state_dict``, names without wrappers, once each is a named, dense, real-valued tensor."""
    if len(state_dict) > MAX_TENSORS:
        raise ExternalWeightsError(
            f"the file holds {len(state_dict):,} tensors; a backbone has at most {MAX_TENSORS:,}"
        )
    entries = []
    for key, value in state_dict.items():
        if not isinstance(key, str):
            raise ExternalWeightsError(f"a parameter name is a {type(key).__name__}, not a string")
        key = _without_wrappers(key)
        if len(key) > MAX_KEY_LENGTH:
            raise ExternalWeightsError(
                f"a parameter name is {len(key):,} characters long ({_shown(key)}); the limit is {MAX_KEY_LENGTH}"
            )
        if (
            value.layout != torch.strided
            or value.is_quantized
            or value.is_complex()
            or value.dtype == torch.bool
        ):
            raise ExternalWeightsError(
                f"{_shown(key)} is a {value.layout} {value.dtype} tensor, not dense real numbers"
            )
        entries.append((key, value))
    return entries


def _without_wrappers(key: str) -> str:
    """``key`` without DataParallel (``module.``) and torch.compile (``_orig_mod.``) prefixes.

    A loop, not recursion, and bounded: a key wrapped more than :data:`MAX_WRAPPERS` times
    is refused (``"module." * 1500`` once raised RecursionError).
    """
    for _ in range(MAX_WRAPPERS + 1):
        prefix = next((prefix for prefix in _WRAPPER_PREFIXES if key.startswith(prefix)), None)
        if prefix is None:
            return key
        key = key[len(prefix) :]
    raise ExternalWeightsError(
        f"a parameter name is wrapped in more than {MAX_WRAPPERS} module./_orig_mod. prefixes ({_shown(key)})"
    )


def _shown(key: str) -> str:
    """``key`` for a message: at most 60 characters, control characters escaped."""
    return ascii(key if len(key) <= 60 else key[:57] + "...")
