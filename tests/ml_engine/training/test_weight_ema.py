from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from ml_engine.training.weight_ema import ema_teacher, warmed_up_decay


def _student() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))


def test_the_decay_warms_up_to_the_configured_value() -> None:
    assert warmed_up_decay(0.999, 1) == pytest.approx(2 / 11)
    assert warmed_up_decay(0.999, 90) == pytest.approx(0.91)
    assert warmed_up_decay(0.999, 100_000) == 0.999
    assert warmed_up_decay(0.5, 3) == pytest.approx(4 / 13)
    assert warmed_up_decay(0.5, 100) == 0.5


def test_the_teacher_is_the_moving_average_of_every_step_buffers_included() -> None:
    student = _student()
    optimizer = torch.optim.SGD(student.parameters(), lr=0.5)
    teacher = ema_teacher(student, decay=0.3)
    # Plain reference: ema_0 = initial weights, ema_n = d_n ema_{n-1} + (1 - d_n) w_n (floats).
    expected = copy.deepcopy(student.state_dict())
    for step in range(1, 6):
        loss = student(torch.randn(8, 4)).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        teacher.update_parameters(student)
        decay = warmed_up_decay(0.3, step)
        for name, value in student.state_dict().items():
            if value.is_floating_point():
                expected[name] = decay * expected[name] + (1 - decay) * value
            else:
                expected[name] = value.clone()

    averaged = teacher.module.state_dict()
    for name, value in expected.items():
        torch.testing.assert_close(averaged[name], value)
    assert int(averaged["1.num_batches_tracked"]) == 5
    assert not torch.allclose(averaged["1.running_mean"], student.state_dict()["1.running_mean"])


def test_a_decay_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match="EMA decay"):
        ema_teacher(_student(), decay=1.0)
