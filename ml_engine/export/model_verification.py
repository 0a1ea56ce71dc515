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


Runner = Callable[[torch.Tensor], np.ndarray]
"""An exported model loaded back: faces in, logits out."""


def _torchscript_runner(path: str | os.PathLike[str]) -> Runner:
    """The file loaded with ``torch.jit.load``."""
    scripted = torch.jit.load(str(path), map_location="cpu").eval()

    def run(batch: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            return scripted(batch).float().numpy()

    return run


def _onnx_runner(path: str | os.PathLike[str]) -> Runner:
    """The file checked with ``onnx.checker`` and run in ONNX Runtime (CPU)."""
    import onnx
    import onnxruntime

    onnx.checker.check_model(str(path), full_check=True)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def run(batch: torch.Tensor) -> np.ndarray:
        return np.asarray(session.run(None, {name: batch.numpy()})[0])

    return run


def _checkpoint_runner(path: str | os.PathLike[str]) -> Runner:
    """The checkpoint rebuilt with :func:`~ml_engine.checkpoint.load_checkpoint`."""
    from ml_engine.checkpoint import load_checkpoint

    rebuilt, _ = load_checkpoint(path, "cpu")
    return lambda batch: reference_logits(rebuilt, batch)


RUNNERS: dict[str, tuple[str, Callable[[str | os.PathLike[str]], Runner]]] = {
    "pytorch": ("checkpoint", _checkpoint_runner),
    "torchscript": ("TorchScript model", _torchscript_runner),
    "onnx": ("ONNX model", _onnx_runner),
}
"""What each export format is called in messages, and how it is loaded back."""


def verify_export(
    path: str | os.PathLike[str],
    format: str,
    model: nn.Module,
    inputs: torch.Tensor,
    tolerance: float = TOLERANCE,
) -> float:
    """Verify an exported file of ``format`` (``pytorch``, ``torchscript`` or ``onnx``) against ``model``."""
    if format not in RUNNERS:
        raise ValueError(f"unknown export format {format!r}; expected one of {sorted(RUNNERS)}")
    _require_batch(inputs)
    what, runner = RUNNERS[format]
    with _loading(what, path), quiet_torchscript():
        return _check(runner(path), model, inputs, tolerance, f"{what} {path}")
