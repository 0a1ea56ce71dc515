from __future__ import annotations

from collections import OrderedDict

import pytest
import torch

from ml_engine.models import (
    WeightsMismatchError,
    create_model,
    create_model_with_weights,
    load_backbone_weights,
)


def _pretrained(seed: int = 1):
    torch.manual_seed(seed)
    return create_model("small_cnn", 4)


def _assert_backbone_equal(model, source):
    for key, value in source.backbone.state_dict().items():
        assert torch.equal(model.backbone.state_dict()[key], value), key


def test_backbone_only_state_dict_is_really_loaded_and_head_is_kept():
    source = _pretrained()
    torch.manual_seed(2)
    model = create_model("small_cnn", 4)
    head_before = model.classifier.weight.detach().clone()
    result = load_backbone_weights(model, source.backbone.state_dict())
    _assert_backbone_equal(model, source)
    assert len(result.loaded) == len(source.backbone.state_dict())
    assert torch.equal(model.classifier.weight, head_before)


def test_full_and_data_parallel_state_dicts_load_and_ignore_the_head():
    source = _pretrained()
    wrapped = OrderedDict((f"module.{key}", value) for key, value in source.state_dict().items())
    model = create_model("small_cnn", 9)  # another head size: the head is not loaded
    result = load_backbone_weights(model, wrapped)
    _assert_backbone_equal(model, source)
    assert result.ignored_head_keys == ("classifier.bias", "classifier.weight")


def test_sequential_style_keys_fail_and_name_the_keys():
    # lightly's nn.Sequential(*resnet.children()[:-1]) idiom: keys like "0.weight" do not match.
    source = create_model("resnet18", 7)
    renamed = {
        f"{index}.{key}": value for index, (key, value) in enumerate(source.backbone.state_dict().items())
    }
    with pytest.raises(WeightsMismatchError) as error:
        load_backbone_weights(create_model("resnet18", 7), renamed)
    message = str(error.value)
    assert "missing (" in message and "conv1.weight" in message
    assert "unexpected (" in message and "0.conv1.weight" in message


def test_shape_mismatch_is_reported_and_nothing_is_loaded():
    source = create_model("small_cnn", 4, width=8)
    model = create_model("small_cnn", 4, width=16)
    before = {key: value.clone() for key, value in model.state_dict().items()}
    with pytest.raises(
        WeightsMismatchError, match=r"shape mismatch .*0\.0\.weight \(8, 1, 3, 3\) vs \(16, 1, 3, 3\)"
    ):
        load_backbone_weights(model, source.backbone.state_dict())
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_missing_buffer_is_an_error():
    source = _pretrained().backbone.state_dict()
    del source["0.1.running_mean"]
    with pytest.raises(WeightsMismatchError, match=r"missing \(1\): 0\.1\.running_mean"):
        load_backbone_weights(create_model("small_cnn", 4), source)


def test_create_model_with_weights_builds_then_loads_the_backbone():
    source = _pretrained()
    model = create_model_with_weights("small_cnn", 3, source.backbone.state_dict(), dropout=0.25, width=16)
    _assert_backbone_equal(model, source)
    assert model.num_classes == 3 and model.model_kwargs["dropout"] == 0.25
    assert create_model_with_weights("small_cnn", 3, None).model_name == "small_cnn"
    with pytest.raises(WeightsMismatchError):
        create_model_with_weights("small_cnn", 3, source.backbone.state_dict(), width=8)
