"""``python -m ml_engine select-auxiliary``: pseudo-label unlabeled faces by cosine to class centroids.

Liu et al., omni-supervised FER (Sec. 3.3, Eq. 3-5): the checkpoint embeds the labeled
faces and the auxiliary ones; a face is kept with its nearest centroid's class when it
beats the second-best class by ``--delta`` (or reaches it, with ``--rule threshold``).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from ml_engine.checkpoint import load_checkpoint
from ml_engine.cli.arguments import keywords
from ml_engine.cli.data import add_data_arguments, load_cli_dataset, select_split
from ml_engine.data.importers import load_dataset
from ml_engine.training.omni_supervised import SELECTION_RULES, select_with_model


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``select-auxiliary``."""
    parser = subparsers.add_parser("select-auxiliary", help="pseudo-label auxiliary faces (omni-supervised)")
    parser.add_argument("--checkpoint", required=True, help="the current (primitive) model")
    add_data_arguments(parser)
    parser.add_argument("--auxiliary", required=True, help="folder, zip or dataset of unlabeled faces")
    parser.add_argument("--auxiliary-format", default=None, help="its format (default: detected)")
    parser.add_argument("--delta", type=float, required=True, help="margin δ of Eq. 5 (or the threshold)")
    parser.add_argument("--rule", choices=SELECTION_RULES, default="margin")
    parser.add_argument("--max-per-class", type=int, default=None)
    parser.add_argument("--out", required=True, help="CSV of kept faces: name, label, similarity, margin")
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Embed both sets, select, write the kept faces and print the count per class."""
    model, info = load_checkpoint(args.checkpoint, args.device)
    labeled, _ = select_split(load_cli_dataset(args), ("train",))
    auxiliary = load_dataset(args.auxiliary, args.auxiliary_format)
    options = keywords(args, "delta", "rule", "max_per_class", "device")
    selection = select_with_model(model, labeled, auxiliary, image_size=info.image_size, **options)
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "label", "similarity", "margin"])
        for row, label, similarity, margin in zip(
            selection.indices, selection.labels, selection.similarities, selection.margins, strict=True
        ):
            writer.writerow(
                [auxiliary.names[row], info.class_names[label], f"{similarity:.6f}", f"{margin:.6f}"]
            )
    counts = ", ".join(
        f"{name} {count}" for name, count in zip(info.class_names, selection.per_class, strict=True)
    )
    print(
        f"kept {len(selection.indices)} of {selection.candidates} faces ({args.rule} δ {args.delta:g}): {counts}"
    )
    print(f"wrote {path}")
    return 0
