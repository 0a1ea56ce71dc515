"""``python -m ml_engine evaluate``: accuracy, macro-F1, per-class recall and confusion of a checkpoint."""

from __future__ import annotations

import argparse
import json

from ml_engine.checkpoint import load_checkpoint
from ml_engine.cli.data import add_data_arguments, load_cli_dataset, select_split
from ml_engine.cli.predict import predict_faces
from ml_engine.evaluation import Metrics, evaluate


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``evaluate``."""
    parser = subparsers.add_parser("evaluate", help="evaluate a checkpoint on labelled faces")
    parser.add_argument("--checkpoint", required=True)
    add_data_arguments(parser)
    parser.add_argument("--split", default=None, help="split to evaluate (default: test, else val, else all)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto")
    parser.add_argument("--json", default=None, help="also write the metrics to this JSON file")
    parser.set_defaults(func=run)


def format_metrics(metrics: Metrics) -> str:
    """A readable report: summary, per-class recall and the confusion matrix."""
    width = max(len(name) for name in metrics.class_names)
    lines = [
        f"faces {metrics.count}  accuracy {metrics.accuracy:.4f}  macro-F1 {metrics.macro_f1:.4f}",
        "recall:",
    ]
    lines += [
        f"  {name:<{width}} {recall:.4f}"
        for name, recall in zip(metrics.class_names, metrics.per_class_recall, strict=True)
    ]
    lines.append("confusion (rows true, columns predicted):")
    lines += [
        f"  {name:<{width}} " + " ".join(f"{count:6d}" for count in row)
        for name, row in zip(metrics.class_names, metrics.confusion, strict=True)
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Load the checkpoint, score the split and print the metrics."""
    model, info = load_checkpoint(args.checkpoint, args.device)
    dataset = load_cli_dataset(args)
    if tuple(dataset.class_names) != info.class_names:
        print(f"class names differ: data {list(dataset.class_names)}, model {list(info.class_names)}")
        return 2
    faces, split = select_split(dataset, (args.split,) if args.split else ("test", "val"))
    outputs = predict_faces(model, info, faces, args)
    metrics = evaluate(faces.labels, outputs.probabilities, info.class_names)
    print(f"split {split}\n{format_metrics(metrics)}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(metrics.as_dict(), handle, indent=2)
    return 0
