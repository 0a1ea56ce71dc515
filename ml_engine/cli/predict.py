"""``python -m ml_engine predict``: class probabilities (and embeddings) for every face, to .npz or .csv."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from ml_engine.checkpoint import CheckpointInfo, load_checkpoint
from ml_engine.cli.arguments import keywords
from ml_engine.cli.data import add_data_arguments, load_cli_dataset
from ml_engine.cli.progress_bar import ProgressBar
from ml_engine.data.dataset import FaceDataset
from ml_engine.inference import Predictions, predict
from ml_engine.models.classifier import FaceClassifier


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``predict``."""
    parser = subparsers.add_parser("predict", help="predict expressions with a checkpoint")
    parser.add_argument("--checkpoint", required=True)
    add_data_arguments(parser)
    parser.add_argument("--out", required=True, help=".npz (probabilities, embeddings, names) or .csv")
    parser.add_argument("--split", default=None, help="only this split (default: every face)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument(
        "--mc-dropout-passes", type=int, default=0, help="also store T MC-dropout samples (npz)"
    )
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto")
    parser.set_defaults(func=run)


def predict_faces(
    model: FaceClassifier,
    info: CheckpointInfo,
    faces: FaceDataset,
    args: argparse.Namespace,
    mc_dropout_passes: int = 0,
) -> Predictions:
    """Score ``faces`` at the checkpoint's image size with ``--device`` and ``--batch-size``, drawing a bar."""
    options = keywords(args, "device", "batch_size")
    options.update(image_size=info.image_size, mc_dropout_passes=mc_dropout_passes, progress=ProgressBar())
    return predict(model, faces, **options)


def write_predictions(
    path: Path, faces: FaceDataset, outputs: Predictions, class_names: tuple[str, ...]
) -> None:
    """Write ``outputs`` as an ``.npz`` (all arrays) or a ``.csv`` (name, prediction, probabilities)."""
    predicted = outputs.probabilities.argmax(axis=1)
    if path.suffix == ".csv":
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["name", "predicted", *class_names])
            for name, label, row in zip(faces.names, predicted, outputs.probabilities, strict=True):
                writer.writerow([name, class_names[label], *(f"{value:.6f}" for value in row)])
        return
    arrays = {
        "names": np.asarray(faces.names),
        "class_names": np.asarray(class_names),
        "probabilities": outputs.probabilities,
        "embeddings": outputs.embeddings,
        "predicted": predicted,
    }
    if outputs.mc_probabilities is not None:
        arrays["mc_probabilities"] = outputs.mc_probabilities
    np.savez(path, **arrays)


def run(args: argparse.Namespace) -> int:
    """Load the checkpoint, score the faces and write the file."""
    path = Path(args.out)
    if path.suffix not in (".npz", ".csv"):
        print(f"--out must end in .npz or .csv, got {path.name}")
        return 2
    model, info = load_checkpoint(args.checkpoint, args.device)
    dataset = load_cli_dataset(args)
    faces = dataset.split(args.split) if args.split else dataset
    outputs = predict_faces(model, info, faces, args, mc_dropout_passes=args.mc_dropout_passes)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_predictions(path, faces, outputs, info.class_names)
    print(f"wrote {len(faces)} predictions to {path}")
    return 0
