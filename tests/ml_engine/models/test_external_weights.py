"""A ResNet-18 of one's own: torchvision/timm state dicts load into the grayscale backbone, checked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torchvision.models import resnet18

from ml_engine.cli.train import initial_weights
from ml_engine.models import WeightsMismatchError, create_model, load_backbone_weights
from ml_engine.models.external_weights import (
    ExternalWeightsError,
    adapt_resnet18_state,
    gray_stem,
    read_external_resnet18,
)
from ml_engine.ssl import PretrainConfig
from ml_engine.ssl.pretrain import pretrain
from tests.ml_engine.ssl.test_ssl_pretrain import tiny_pool


def torchvision_checkpoint(path: Path, **wrap: object) -> dict[str, torch.Tensor]:
    """An RGB torchvision ResNet-18 with random weights, saved as its state dict (or wrapped)."""
    torch.manual_seed(0)
    state = resnet18(weights=None, num_classes=1000).state_dict()
    torch.save({**wrap, "state_dict": state} if wrap else state, path)
    return state


def test_the_summed_stem_answers_a_gray_face_as_the_rgb_stem_answers_it_replicated() -> None:
    torch.manual_seed(1)
    rgb = torch.randn(64, 3, 7, 7)
    face = torch.randn(2, 1, 48, 48)
    gray_response = F.conv2d(face, gray_stem(rgb), stride=2, padding=3)
    rgb_response = F.conv2d(face.expand(-1, 3, -1, -1), rgb, stride=2, padding=3)
    torch.testing.assert_close(gray_response, rgb_response, rtol=1e-5, atol=1e-5)


def test_a_torchvision_network_and_the_adapted_backbone_give_the_same_features(tmp_path: Path) -> None:
    """The whole network, not only the stem: the backbone's 512-d features on a gray face equal
    torchvision's pooled features on that face replicated to RGB."""
    state = torchvision_checkpoint(tmp_path / "resnet18.pth")
    external = read_external_resnet18(tmp_path / "resnet18.pth")
    model = create_model("resnet18", 7, stem="imagenet").eval()
    loaded = load_backbone_weights(model, external.state_dict)

    reference = resnet18(weights=None, num_classes=1000)
    reference.load_state_dict(state)
    reference.fc = torch.nn.Identity()
    reference.eval()
    face = torch.rand(3, 1, 48, 48)
    with torch.no_grad():
        torch.testing.assert_close(
            model.backbone(face), reference(face.expand(-1, 3, -1, -1)), rtol=1e-4, atol=1e-4
        )
    assert external.left_out == ("fc.bias", "fc.weight")
    assert external.adapted == ("conv1.weight: RGB summed to one channel",)
    assert len(loaded.loaded) == len(model.backbone.state_dict())


@pytest.mark.parametrize("container", ["state_dict", "model"])
def test_checkpoints_that_wrap_the_weights_or_prefix_them_load_too(tmp_path: Path, container: str) -> None:
    state = resnet18(weights=None).state_dict()
    torch.save(
        {container: {f"module.{key}": value for key, value in state.items()}, "epoch": 90}, tmp_path / "c.pt"
    )
    external = read_external_resnet18(tmp_path / "c.pt")
    assert set(external.state_dict) == {key for key in state if not key.startswith("fc.")}


class Payload:
    """A class whose unpickling would run code: ``weights_only`` must refuse it."""

    def __reduce__(self):
        return (os.system, ("echo owned > /dev/null",))


def test_a_pickled_program_is_refused_without_running(tmp_path: Path) -> None:
    torch.save({"state_dict": Payload()}, tmp_path / "evil.pt")
    with pytest.raises(ExternalWeightsError, match=r"object of type posix\.system; .* never pickled code"):
        read_external_resnet18(tmp_path / "evil.pt")
    with pytest.raises(ExternalWeightsError, match="never pickled code"):
        initial_weights(str(tmp_path / "evil.pt"))


def test_weights_of_another_architecture_are_refused_with_their_keys(tmp_path: Path) -> None:
    torch.save({"features.0.weight": torch.zeros(8, 3, 3, 3)}, tmp_path / "vgg.pt")
    with pytest.raises(ExternalWeightsError, match="not a torchvision or timm ResNet"):
        read_external_resnet18(tmp_path / "vgg.pt")
    wide = dict(resnet18(weights=None).state_dict())
    wide["layer4.1.conv2.weight"] = torch.zeros(1024, 512, 3, 3)
    with pytest.raises(WeightsMismatchError, match=r"shape mismatch \(1\): layer4\.1\.conv2\.weight"):
        load_backbone_weights(create_model("resnet18", 7), adapt_resnet18_state(wide).state_dict)


def test_an_imagenet_stem_offered_to_a_compact_backbone_names_the_stem() -> None:
    external = adapt_resnet18_state(resnet18(weights=None).state_dict())
    with pytest.raises(WeightsMismatchError, match=r"conv1\.weight \(64, 1, 7, 7\) vs \(64, 1, 3, 3\)"):
        load_backbone_weights(create_model("resnet18", 7, stem="compact"), external.state_dict)


def test_the_cli_reads_a_torchvision_file_as_resnet18_with_the_imagenet_stem(tmp_path: Path, capsys) -> None:
    torchvision_checkpoint(tmp_path / "resnet18.pth")
    weights, model_name, kwargs = initial_weights(str(tmp_path / "resnet18.pth"))
    assert (model_name, kwargs) == ("resnet18", {"stem": "imagenet"})
    assert weights["conv1.weight"].shape == (64, 1, 7, 7)
    assert "fc.weight: left out (classification head)" in capsys.readouterr().out


def test_self_supervised_pre_training_starts_from_the_given_weights() -> None:
    """With a zero learning rate nothing moves: the weights pre-training returns are the ones given
    (also through BYOL's momentum copy of the backbone, made after they are loaded)."""
    state = adapt_resnet18_state(resnet18(weights=None).state_dict()).state_dict
    config = PretrainConfig(
        method="byol",
        model="resnet18",
        model_kwargs={"stem": "imagenet"},
        image_size=16,
        epochs=1,
        batch_size=8,
        learning_rate=0.0,
        weight_decay=0.0,
    )

    result = pretrain(config, tiny_pool(16), initial_weights=state, device="cpu")

    for key, value in state.items():
        if not key.endswith(("running_mean", "running_var", "num_batches_tracked")):
            torch.testing.assert_close(result.backbone_state[key], value, rtol=0, atol=0)
