from __future__ import annotations

import pytest
import torch

from ml_engine.device import DeviceUnavailableError, resolve_device


def test_cpu_and_auto():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_gpu_fails_clearly():
    with pytest.raises(DeviceUnavailableError, match="CUDA is not available"):
        resolve_device("cuda")


def test_unknown_device_fails_clearly():
    with pytest.raises(DeviceUnavailableError, match="unknown device"):
        resolve_device("gpu0")
