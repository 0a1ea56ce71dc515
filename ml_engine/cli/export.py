"""``python -m ml_engine export-model``: a checkpoint as PyTorch, TorchScript or ONNX, verified, with a model card.

Example::

    python -m ml_engine export-model --checkpoint var/model.pt --format onnx --format torchscript \\
        --out exports/ --strategy least_confidence --cycles 7 --labels-used 2400 --ssl-method simclr
"""

from __future__ import annotations

import argparse
import sys

from ml_engine.cli.arguments import keywords
from ml_engine.export.bundle import export_checkpoint
from ml_engine.export.model_card import TrainingProvenance
from ml_engine.export.model_export import FORMATS
from ml_engine.export.model_verification import TOLERANCE, ExportVerificationError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``export-model``."""
    parser = subparsers.add_parser(
        "export-model",
        help="export a checkpoint (pytorch, torchscript, onnx), verify it and write a model card",
    )
    parser.add_argument("--checkpoint", required=True, help="a FaceLoop checkpoint (.pt)")
    parser.add_argument(
        "--format",
        action="append",
        choices=FORMATS,
        required=True,
        help="export format; repeat for several",
    )
    parser.add_argument(
        "--out", required=True, help="output folder (model file(s), model_card.json, MODEL_CARD.md)"
    )
    parser.add_argument("--tolerance", type=float, default=TOLERANCE, help="max |exported - PyTorch| logit")
    provenance = parser.add_argument_group("model card (default: what the checkpoint's config records)")
    provenance.add_argument("--project", default=None)
    provenance.add_argument("--labels-used", type=int, default=None)
    provenance.add_argument("--strategy", default=None)
    provenance.add_argument("--cycles", type=int, default=None)
    provenance.add_argument("--ssl-method", default=None)
    provenance.add_argument("--training-mode", default=None)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Export, print one line per verified file; status 1 when a verification fails."""
    recorded = ("labels_used", "strategy", "cycles", "ssl_method", "training_mode", "project")
    provenance = TrainingProvenance(**keywords(args, *recorded))
    formats = list(dict.fromkeys(args.format))
    try:
        result = export_checkpoint(
            args.checkpoint, formats, args.out, provenance=provenance, tolerance=args.tolerance
        )
    except ExportVerificationError as error:
        print(f"export failed verification: {error}", file=sys.stderr)
        return 1
    for export in result.exports:
        opset = f", opset {export.opset}" if export.opset is not None else ""
        print(
            f"{export.format:<11} {export.path}  max |diff| {export.max_abs_difference:.2e} "
            f"on {export.samples} faces{opset}  sha256 {export.sha256[:16]}"
        )
    print(f"model card  {result.card_json_path}  {result.card_markdown_path}")
    return 0
