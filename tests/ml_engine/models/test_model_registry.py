from __future__ import annotations

import pytest
import torch
from torch import nn

from ml_engine.models import FaceClassifier, create_model, list_models


def test_registry_lists_both_models():
    assert {"resnet18", "small_cnn"} <= set(list_models())


def test_unknown_model_is_rejected_with_the_known_names():
    with pytest.raises(ValueError, match="resnet18"):
        create_model("vgg99", 7)


@pytest.mark.parametrize(("stem", "side"), [("imagenet", 2), ("compact", 3), ("cifar", 6)])
def test_resnet18_stems_keep_the_expected_layer4_resolution(stem, side):
    model = create_model("resnet18", 7, stem=stem)
    features = {}
    model.backbone.layer4.register_forward_hook(lambda _m, _i, out: features.setdefault("map", out))
    logits, embedding = model.forward_with_embedding(torch.zeros(2, 1, 48, 48))
    assert logits.shape == (2, 7)
    assert embedding.shape == (2, 512) == (2, model.embedding_dim)
    assert features["map"].shape[-2:] == (side, side)


def test_resnet18_takes_one_channel_and_has_no_fc_parameters():
    model = create_model("resnet18", 5)
    assert model.backbone.conv1.in_channels == 1
    assert not any(key.startswith("fc.") for key in model.backbone.state_dict())
    assert isinstance(model.classifier, nn.Linear)
    assert model.classifier.out_features == 5


def test_model_kwargs_record_filled_in_defaults():
    model = create_model("resnet18", 7, dropout=0.3)
    assert model.model_name == "resnet18"
    assert model.model_kwargs == {"in_channels": 1, "stem": "imagenet", "dropout": 0.3}
    rebuilt = create_model(model.model_name, 7, **model.model_kwargs)
    assert rebuilt.state_dict().keys() == model.state_dict().keys()


def test_dropout_sits_between_embedding_and_classifier():
    torch.manual_seed(0)
    model = create_model("small_cnn", 3, dropout=0.5)
    assert isinstance(model, FaceClassifier)
    images = torch.randn(4, 1, 16, 16)
    model.eval()
    logits, embedding = model.forward_with_embedding(images)
    torch.testing.assert_close(logits, model.classifier(embedding))
    model.train()
    logits_a, embedding_a = model.forward_with_embedding(images)
    assert not torch.equal(logits_a, model.classifier(embedding_a))


def test_invalid_dropout_is_rejected():
    with pytest.raises(ValueError, match="dropout"):
        create_model("small_cnn", 3, dropout=1.0)
