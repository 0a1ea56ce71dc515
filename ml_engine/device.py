"""Turn a user's device choice ("cpu", "cuda", "cuda:1", "auto") into a ``torch.device``."""

from __future__ import annotations

import torch


class DeviceUnavailableError(RuntimeError):
    """The requested device does not exist on this machine."""


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """The torch device for ``device``; "auto" picks CUDA when present, else the CPU.

    Raises:
        DeviceUnavailableError: CUDA was asked for but is not available (no GPU, or a CPU-only
            torch build), or the CUDA index does not exist.
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as error:
        raise DeviceUnavailableError(
            f"unknown device {device!r}: use 'cpu', 'cuda', 'cuda:N' or 'auto'"
        ) from error
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceUnavailableError(
                f"device {device!r} was requested but CUDA is not available on this machine "
                f"(torch {torch.__version__}); use --device cpu or auto"
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise DeviceUnavailableError(
                f"device {device!r} was requested but only {torch.cuda.device_count()} CUDA device(s) exist"
            )
    elif resolved.type != "cpu":
        raise DeviceUnavailableError(
            f"device type {resolved.type!r} is not supported; use 'cpu', 'cuda' or 'auto'"
        )
    return resolved
