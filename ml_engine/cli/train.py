"""``python -m ml_engine train``: train a classifier on any supported dataset and save a checkpoint."""

from __future__ import annotations

import argparse
from typing import Any

import torch

from ml_engine.checkpoint import FORMAT_VERSION, read_checkpoint, save_checkpoint
from ml_engine.cli.arguments import keywords
from ml_engine.cli.data import add_data_arguments, hold_out, load_cli_dataset, select_split
from ml_engine.cli.progress_bar import ProgressBar
from ml_engine.data.dataset import FaceDataset
from ml_engine.device import resolve_device
from ml_engine.models.external_weights import is_resnet_state, load_weights_file, read_external_resnet18
from ml_engine.models.resnet import STEMS
from ml_engine.training import TrainConfig, fit
from ml_engine.training.auxiliary_tasks import AUXILIARY_TASKS


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``train``."""
    parser = subparsers.add_parser("train", help="train a classifier and save a checkpoint")
    add_data_arguments(parser)
    parser.add_argument("--out", required=True, help="checkpoint file to write (.pt)")
    parser.add_argument("--model", default="resnet18", help="model registry name")
    parser.add_argument(
        "--stem", choices=STEMS, default=None, help="ResNet stem (default: the model's default)"
    )
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    parser.add_argument("--lr", type=float, default=TrainConfig.lr)
    parser.add_argument(
        "--schedule", choices=("cosine", "onecycle", "constant"), default=TrainConfig.schedule
    )
    parser.add_argument("--dropout", type=float, default=0.0, help="dropout before the head (BALD needs > 0)")
    parser.add_argument("--image-size", type=int, default=48)
    parser.add_argument("--class-weighted", action="store_true", help="inverse-frequency class weights")
    parser.add_argument("--patience", type=int, default=None, help="early-stopping patience in epochs")
    parser.add_argument(
        "--val-fraction", type=float, default=0.1, help="hold-out share when there is no val split"
    )
    parser.add_argument("--initial-weights", default=None, help="SSL or classifier checkpoint to start from")
    add_auxiliary_arguments(parser)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto")
    parser.set_defaults(func=run)


def add_auxiliary_arguments(parser: argparse.ArgumentParser) -> None:
    """``--auxiliary`` and ``--auxiliary-grid``: HMTL's self-supervised heads (seed 003)."""
    parser.add_argument(
        "--auxiliary",
        choices=AUXILIARY_TASKS,
        default="none",
        help="self-supervised heads trained beside the expression head, dropped afterwards",
    )
    parser.add_argument(
        "--auxiliary-grid",
        type=int,
        choices=(2, 3),
        default=TrainConfig.auxiliary_grid,
        help="tiles per side",
    )


def initial_weights(path: str) -> tuple[dict[str, torch.Tensor], str | None, dict[str, Any]]:
    """Backbone weights from an SSL checkpoint, a classifier checkpoint, a torchvision or timm
    ResNet-18 state dict (RGB stem summed to gray, ``fc`` left out) or a raw backbone state dict.

    Returns the weights and, when the file says so, the model name and kwargs they fit.
    """
    payload = load_weights_file(path)
    if isinstance(payload, dict) and payload.get("format") == "faceloop-ssl-checkpoint":
        from ml_engine.ssl.checkpoint import load_pretrained_backbone

        backbone = load_pretrained_backbone(path)
        return backbone.state_dict, backbone.model_name, backbone.model_kwargs
    if isinstance(payload, dict) and payload.get("format_version") == FORMAT_VERSION:
        checkpoint = read_checkpoint(path)
        return checkpoint["state_dict"], checkpoint["model_name"], checkpoint["model_kwargs"]
    if is_resnet_state(payload):
        external = read_external_resnet18(path)
        for change in (
            *external.adapted,
            *(f"{key}: left out (classification head)" for key in external.left_out),
        ):
            print(f"{path}: {change}")
        stem = {"stem": "imagenet"} if external.state_dict["conv1.weight"].shape[-1] == 7 else {}
        return external.state_dict, "resnet18", stem
    if not isinstance(payload, dict):
        raise ValueError(f"{path} holds no state dict")
    return payload, None, {}


def architecture(
    model: str, stem: str | None, weights_path: str | None
) -> tuple[str, dict[str, Any], dict[str, torch.Tensor] | None]:
    """The model name and kwargs to build, and the weights to start from.

    ``--model`` and ``--stem``, unless the ``--initial-weights`` file names the architecture
    its weights fit (then its kwargs, less dropout and input channels, which the run sets).
    """
    kwargs: dict[str, Any] = {} if stem is None else {"stem": stem}
    if not weights_path:
        return model, kwargs, None
    weights, saved_model, saved_kwargs = initial_weights(weights_path)
    if saved_model is None:
        return model, kwargs, weights
    kept = {key: value for key, value in saved_kwargs.items() if key not in ("dropout", "in_channels")}
    return saved_model, kept, weights


def _config(args: argparse.Namespace) -> tuple[TrainConfig, dict[str, torch.Tensor] | None]:
    model, kwargs, weights = architecture(args.model, args.stem, args.initial_weights)
    options = keywords(
        args, "dropout", "image_size", "epochs", "batch_size", "lr", "schedule", "class_weighted"
    )
    options |= keywords(args, "patience", "seed", "auxiliary", "auxiliary_grid")
    return TrainConfig(model=model, model_kwargs=kwargs, **options), weights


def run(args: argparse.Namespace) -> int:
    """Train, print the validation metrics and write the checkpoint."""
    device = resolve_device(args.device)
    dataset = load_cli_dataset(args)
    train, train_name = select_split(dataset, ("train",))
    val: FaceDataset | None
    val, val_name = select_split(dataset, ("val",))
    if val_name == "all":
        train, val = hold_out(train, args.val_fraction, args.seed) if args.val_fraction > 0 else (train, None)
        val_name = f"{args.val_fraction:.0%} held out of {train_name}"
    if val is not None and not (val.labels >= 0).any():
        val = None
    print(f"training on {int((train.labels >= 0).sum())} labelled faces; validating on {val_name}")
    config, weights = _config(args)
    result = fit(config, train, val, device=device, initial_weights=weights, progress=ProgressBar())
    path = save_checkpoint(
        args.out,
        result.model,
        class_names=dataset.class_names,
        image_size=config.image_size,
        config=config,
        metrics=result.metrics,
    )
    summary = ", ".join(f"{key} {value:.4g}" for key, value in result.metrics.items())
    print(f"{summary}\nwrote {path}")
    return 0
