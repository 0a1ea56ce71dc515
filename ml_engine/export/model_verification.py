"""Check an exported model by running it: its logits must match PyTorch's within a tolerance.

An export can go wrong silently: an operator traced for one batch size, an ONNX opset that
rounds differently, a file truncated on a full disk, or a file changed after export. So
every export is loaded back from disk *by the runtime that will serve it* (TorchScript's
``torch.jit.load``, ONNX Runtime, :func:`~ml_engine.checkpoint.load_checkpoint`) and run on
sample faces, once as a batch and once as a single face (which proves the batch axis is
dynamic), and the largest absolute logit difference must be at most ``tolerance``
(default ``1e-4``). A NaN anywhere counts as a mismatch. Anything else raises
:class:`ExportVerificationError`.

The same functions re-check a file later (``verify_export``), e.g. before a download is
offered, so a tampered or damaged export is caught then too.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import nn

TOLERANCE = 1e-4
"""Largest allowed absolute difference between exported and PyTorch logits."""


class ExportVerificationError(RuntimeError):
    """The exported model could not be loaded or its outputs differ from PyTorch's."""


@contextlib.contextmanager
def quiet_torchscript() -> Iterator[None]:
    """Silence torch 2.14's FutureWarnings that TorchScript and the TorchScript-based ONNX
    exporter are deprecated: both are still what TorchScript and ONNX Runtime users need, and
    the warning would repeat on every export and verification."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit\..* is deprecated", category=FutureWarning)
        warnings.filterwarnings("ignore", message=r".*legacy TorchScript-based ONNX export.*")
        warnings.filterwarnings("ignore", message=r"The feature will be removed.*")
        yield


def reference_logits(model: nn.Module, inputs: torch.Tensor) -> np.ndarray:
    """PyTorch's logits for ``inputs`` (eval mode, no gradients) as float32 numpy."""
    with torch.inference_mode():
        return model.eval()(inputs).float().cpu().numpy()


def compare(expected: np.ndarray, actual: np.ndarray, tolerance: float, what: str) -> float:
    """The largest absolute difference; raises if shapes differ or it exceeds ``tolerance``."""
    if expected.shape != actual.shape:
        raise ExportVerificationError(f"{what}: output shape {actual.shape}, PyTorch gives {expected.shape}")
    difference = float(np.max(np.abs(expected.astype(np.float64) - actual.astype(np.float64)), initial=0.0))
    if not difference <= tolerance:  # also catches NaN
        raise ExportVerificationError(
            f"{what}: outputs differ from PyTorch by up to {difference:.3g} (tolerance {tolerance:g})"
        )
    return difference


def _check(
    run: Callable[[torch.Tensor], np.ndarray],
    model: nn.Module,
    inputs: torch.Tensor,
    tolerance: float,
    what: str,
) -> float:
    """Compare ``run`` with PyTorch on the whole batch and on the first face alone."""
    worst = 0.0
    for batch in (inputs, inputs[:1]):
        worst = max(worst, compare(reference_logits(model, batch), run(batch), tolerance, what))
    return worst


@contextlib.contextmanager
def _loading(what: str, path: str | os.PathLike[str]) -> Iterator[None]:
    """Turn any error while loading or running the export into an :class:`ExportVerificationError`."""
    try:
        yield
    except ExportVerificationError:
        raise
    except Exception as error:
        raise ExportVerificationError(f"{what} {path} cannot be loaded and run: {error}") from error


def _require_batch(inputs: torch.Tensor) -> None:
    if inputs.ndim != 4 or len(inputs) < 2:
        raise ValueError(f"verification needs (B >= 2, C, H, W) sample faces, got {tuple(inputs.shape)}")


def verify_torchscript(
    path: str | os.PathLike[str], model: nn.Module, inputs: torch.Tensor, tolerance: float = TOLERANCE
) -> float:
    """Load ``path`` with ``torch.jit.load`` and compare it with ``model``; returns the max difference."""
    _require_batch(inputs)
    with _loading("TorchScript model", path), quiet_torchscript():
        scripted = torch.jit.load(str(path), map_location="cpu").eval()

        def run(batch: torch.Tensor) -> np.ndarray:
            with torch.inference_mode():
                return scripted(batch).float().numpy()

        return _check(run, model, inputs, tolerance, f"TorchScript model {path}")


def verify_onnx(
    path: str | os.PathLike[str], model: nn.Module, inputs: torch.Tensor, tolerance: float = TOLERANCE
) -> float:
    """Check ``path`` with ``onnx.checker``, run it in ONNX Runtime (CPU) and compare with ``model``."""
    import onnx
    import onnxruntime

    _require_batch(inputs)
    with _loading("ONNX model", path):
        onnx.checker.check_model(str(path), full_check=True)
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name

        def run(batch: torch.Tensor) -> np.ndarray:
            return np.asarray(session.run(None, {name: batch.numpy()})[0])

        return _check(run, model, inputs, tolerance, f"ONNX model {path}")


def verify_checkpoint(
    path: str | os.PathLike[str], model: nn.Module, inputs: torch.Tensor, tolerance: float = TOLERANCE
) -> float:
    """Rebuild the checkpoint at ``path`` with :func:`load_checkpoint` and compare it with ``model``."""
    from ml_engine.checkpoint import load_checkpoint

    _require_batch(inputs)
    with _loading("checkpoint", path):
        rebuilt, _ = load_checkpoint(path, "cpu")
        return _check(
            lambda batch: reference_logits(rebuilt, batch), model, inputs, tolerance, f"checkpoint {path}"
        )


VERIFIERS: dict[str, Callable[..., float]] = {
    "pytorch": verify_checkpoint,
    "torchscript": verify_torchscript,
    "onnx": verify_onnx,
}


def verify_export(
    path: str | os.PathLike[str],
    format: str,
    model: nn.Module,
    inputs: torch.Tensor,
    tolerance: float = TOLERANCE,
) -> float:
    """Verify an exported file of ``format`` (``pytorch``, ``torchscript`` or ``onnx``) against ``model``."""
    if format not in VERIFIERS:
        raise ValueError(f"unknown export format {format!r}; expected one of {sorted(VERIFIERS)}")
    return VERIFIERS[format](path, model, inputs, tolerance)
