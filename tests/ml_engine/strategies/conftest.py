"""Strategy tests use tiny tensors: run torch on one thread.

On the shared 2-core development machine, tiny multi-threaded kernels wait for descheduled
threads (measured 20x slower than one thread under load).
"""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
