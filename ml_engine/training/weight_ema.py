"""Ada-CM's EMA teacher: an exponential moving average of the student's weights.

The official code (``main.py:337-356``, MixMatch's ``WeightEMA``) updates
``ema = 0.999 ema + 0.001 student`` for every float tensor of the state dict after each
step, BatchNorm statistics included, and uses the average both to compute the class
margins (seed 002 Eq. 4) and to evaluate. The average smooths out the noise of the last
steps, which is large with batches of 16 and a constant learning rate.

Two differences from the code:

* the decay warms up as ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates (TensorFlow's
  ``ExponentialMovingAverage`` with ``num_updates``), so a run far shorter than the paper's
  16,000 steps does not end with a teacher that is still mostly the initial weights;
* the code's extra weight decay of the student inside the EMA step (which also shrinks the
  BatchNorm buffers) is left out.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

TensorGroup = list[torch.Tensor] | tuple[torch.Tensor, ...]
"""One (device, dtype) group of parameters, as ``AveragedModel`` hands them to ``multi_avg_fn``."""


def warmed_up_decay(decay: float, updates: int) -> float:
    """The decay used for the ``updates``-th update (counting from 1)."""
    return min(decay, (1 + updates) / (10 + updates))


def ema_teacher(student: nn.Module, decay: float) -> AveragedModel:
    """A teacher that starts as a copy of ``student``; call ``update_parameters(student)`` after each step.

    The averaged network is ``teacher.module``, of the student's class. Integer buffers
    (BatchNorm's step counter) are copied, not averaged.
    """
    if not 0.0 <= decay < 1.0:
        raise ValueError(f"EMA decay must be in [0, 1), got {decay}")

    @torch.no_grad()
    def average(averaged: TensorGroup, current: TensorGroup, _: torch.Tensor | int) -> None:
        # The count passed in is a copy on the model's device; reading it would stall a CUDA
        # stream every step, so the teacher's own counter (kept on the CPU) is read instead.
        weight = 1.0 - warmed_up_decay(decay, int(teacher.n_averaged))
        if averaged[0].is_floating_point():  # called once per (device, dtype) group
            torch._foreach_lerp_(averaged, current, weight)  # as torch's get_ema_multi_avg_fn
        else:
            torch._foreach_copy_(averaged, current)

    teacher = AveragedModel(student, multi_avg_fn=average, use_buffers=True)
    teacher.update_parameters(student)  # the first update copies: both start identical, as in the code
    return teacher
