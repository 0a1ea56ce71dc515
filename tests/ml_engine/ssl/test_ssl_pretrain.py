"""The pre-training loop: weights reach the classifier, cancel and resume, progress."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ml_engine.data.dataset import FaceDataset
from ml_engine.models import create_model, load_backbone_weights
from ml_engine.progress import Cancelled, Progress
from ml_engine.ssl import PretrainConfig, load_pretrained_backbone, pretrain
from ml_engine.ssl.checkpoint import load_pretraining_checkpoint


def tiny_pool(count: int = 24, size: int = 16) -> FaceDataset:
    generator = torch.Generator().manual_seed(5)
    coarse = torch.rand(count, 1, 4, 4, generator=generator)
    images = (torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear") * 255).to(
        torch.uint8
    )
    return FaceDataset(
        class_names=("a", "b"),
        names=[f"face{i}.png" for i in range(count)],
        images=images[:, 0].numpy(),
        labels=np.full(count, -1),
        splits=np.array(["pool"] * count),
    )


def tiny_config(method: str = "simclr", epochs: int = 2) -> PretrainConfig:
    return PretrainConfig(
        method=method,
        model="small_cnn",
        model_kwargs={"width": 8},
        image_size=16,
        epochs=epochs,
        batch_size=8,
        hidden_dim=16,
        output_dim=8,
        memory_bank_size=16,
        n_prototypes=8,
        learning_rate=0.05,
    )


def test_classifier_receives_every_pretrained_backbone_tensor(tmp_path) -> None:
    checkpoint = tmp_path / "ssl.pt"
    result = pretrain(tiny_config(), tiny_pool(), checkpoint_path=checkpoint)
    pretrained = load_pretrained_backbone(checkpoint)
    classifier = pretrained.build_classifier(num_classes=7, dropout=0.2)
    loaded = classifier.backbone.state_dict()
    assert set(loaded) == set(result.backbone_state) == set(pretrained.state_dict)
    for key, value in result.backbone_state.items():
        assert torch.equal(loaded[key], value), key
    fresh = create_model("small_cnn", 7, width=8)
    changed = [
        key for key, value in fresh.backbone.state_dict().items() if not torch.equal(value, loaded[key])
    ]
    assert "0.0.weight" in changed  # training moved the first convolution away from its initialisation
    assert classifier.classifier.out_features == 7 and classifier.dropout.p == 0.2
    report = load_backbone_weights(fresh, result.backbone_state)
    assert set(report.loaded) == set(fresh.backbone.state_dict()) and report.ignored_head_keys == ()


@pytest.mark.parametrize("method", ["simclr", "moco"])
def test_cancel_then_resume_equals_an_uninterrupted_run(tmp_path, method: str) -> None:
    config, pool = tiny_config(method, epochs=3), tiny_pool()
    uninterrupted = pretrain(config, pool)

    steps_seen: list[Progress] = []
    checkpoint = tmp_path / "run.pt"
    with pytest.raises(Cancelled):
        pretrain(
            config,
            pool,
            checkpoint_path=checkpoint,
            progress=steps_seen.append,
            cancel=lambda: len(steps_seen) == 9,  # 3 steps + 1 summary per epoch: stop at epoch 3, step 2
        )
    assert load_pretraining_checkpoint(checkpoint)["epoch"] == 2

    resumed_steps: list[Progress] = []
    resumed = pretrain(config, pool, checkpoint_path=checkpoint, progress=resumed_steps.append)
    assert [report.epoch for report in resumed_steps] == [3, 3, 3, 3]  # 3 steps + the epoch summary
    assert len(resumed.losses) == 3 and resumed.losses[:2] == pytest.approx(uninterrupted.losses[:2])
    for key, value in uninterrupted.backbone_state.items():
        assert torch.allclose(resumed.backbone_state[key], value, atol=1e-6), key
    assert load_pretraining_checkpoint(checkpoint)["epoch"] == 3


def test_resuming_someone_elses_checkpoint_is_refused(tmp_path) -> None:
    checkpoint = tmp_path / "run.pt"
    pretrain(tiny_config("simclr", epochs=1), tiny_pool(), checkpoint_path=checkpoint)
    with pytest.raises(ValueError, match="method"):
        pretrain(tiny_config("byol", epochs=2), tiny_pool(), checkpoint_path=checkpoint)
    with pytest.raises(ValueError, match="other faces"):
        pretrain(tiny_config("simclr", epochs=2), tiny_pool(count=16), checkpoint_path=checkpoint)


def test_progress_reports_every_step_with_a_finite_loss() -> None:
    reports: list[Progress] = []
    pretrain(tiny_config("barlow_twins", epochs=1), tiny_pool(16), progress=reports.append)
    steps = [(r.stage, r.epoch, r.step, r.steps) for r in reports if not r.metrics]
    assert steps == [("pretrain", 1, 1, 2), ("pretrain", 1, 2, 2)]
    assert all(np.isfinite(r.loss) for r in reports)
    summary = reports[-1]
    assert summary.metrics["epoch_loss"] == pytest.approx((reports[0].loss + reports[1].loss) / 2)


def test_no_temporary_files_are_left_next_to_the_checkpoint(tmp_path) -> None:
    pretrain(tiny_config("swav", epochs=1), tiny_pool(), checkpoint_path=tmp_path / "ssl.pt")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["ssl.pt"]
