"""The pre-training step floor: epochs raised until a run takes at least ``min_steps`` steps."""

from __future__ import annotations

import pytest

from ml_engine.pretraining_steps import epochs_for_min_steps, steps_per_epoch
from ml_engine.progress import Progress
from ml_engine.ssl import pretrain
from tests.ml_engine.ssl.test_ssl_pretrain import tiny_config, tiny_pool


def test_the_last_partial_batch_is_no_step():
    assert steps_per_epoch(faces=5_000, batch_size=256) == 19  # 4,864 faces in batches, 136 dropped
    assert steps_per_epoch(faces=10_000, batch_size=256) == 39
    assert steps_per_epoch(faces=511, batch_size=256) == 1
    assert steps_per_epoch(faces=100, batch_size=256) == 1  # the batch shrinks to the pool


def test_a_small_pool_gets_at_least_the_steps_a_large_one_gets_from_its_epochs():
    large_epochs = epochs_for_min_steps(epochs=20, min_steps=1_000, faces=30_000, batch_size=256)
    small_epochs = epochs_for_min_steps(epochs=20, min_steps=1_000, faces=2_000, batch_size=256)
    assert large_epochs == 20  # 117 steps an epoch: 2,340 steps, above the floor
    assert small_epochs == 143  # 7 steps an epoch: ceil(1,000 / 7)
    assert small_epochs * steps_per_epoch(2_000, 256) == 1_001
    assert (small_epochs - 1) * steps_per_epoch(2_000, 256) < 1_000  # the least epochs that reach it


def test_no_floor_leaves_the_epochs_alone():
    assert epochs_for_min_steps(epochs=20, min_steps=0, faces=2_000, batch_size=256) == 20


@pytest.mark.parametrize(("faces", "batch_size"), [(1, 256), (100, 1)])
def test_a_pool_or_batch_too_small_for_pairs_is_refused(faces, batch_size):
    with pytest.raises(ValueError, match="at least two faces"):
        steps_per_epoch(faces=faces, batch_size=batch_size)


def test_the_counted_steps_are_the_steps_pretraining_takes():
    """21 faces in batches of 8: two steps an epoch (5 faces dropped); a floor of 5 steps needs 3 epochs."""
    faces, config = tiny_pool(21), tiny_config(epochs=1)
    config.epochs = epochs_for_min_steps(epochs=1, min_steps=5, faces=21, batch_size=config.batch_size)
    reports: list[Progress] = []
    pretrain(config, faces, progress=reports.append)
    steps = [report for report in reports if not report.metrics]
    assert config.epochs == 3
    assert len(steps) == 3 * steps_per_epoch(21, config.batch_size) == 6
