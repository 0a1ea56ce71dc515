"""The export half of the ML bridge: project rows become ``ml_engine.export`` label rows and model files.

Label writers import no torch, so label exports stay light; model exports load torch lazily.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from annotator.ml_bridge.cycle_inputs import training_dataset
from annotator.ml_bridge.omni_supervised import with_auxiliary_faces
from ml_engine.export.ferplus_export import write_ferplus_zip
from ml_engine.export.hf_imagefolder import write_hf_imagefolder_zip
from ml_engine.export.image_folder_zip import write_image_folder_zip
from ml_engine.export.label_export import write_labels_csv, write_labels_jsonl
from ml_engine.export.label_rows import Answer, LabelRow, Prediction
from ml_engine.export.label_studio import write_label_studio_zip
from ml_engine.progress import CancelFlag, ProgressCallback

LABEL_WRITERS = {
    "csv": (write_labels_csv, "labels.csv"),
    "jsonl": (write_labels_jsonl, "labels.jsonl"),
    "imagefolder": (write_image_folder_zip, "imagefolder.zip"),
    "ferplus": (write_ferplus_zip, "ferplus.zip"),
    "labelstudio": (write_label_studio_zip, "label_studio.zip"),
    "hf_imagefolder": (write_hf_imagefolder_zip, "hf_imagefolder.zip"),
}
FORMATS_WITH_IMAGES = frozenset({"imagefolder", "ferplus", "labelstudio", "hf_imagefolder"})
"""Label set formats that pack each face's image (the others write its name and labels only)."""
MODEL_FORMATS = ("pytorch", "torchscript", "onnx")
DISTILLED_FORMATS = ("zip",)
DISTILL_ITERATIONS = 300
"""Outer iterations of a distilled-set export (Wang et al. 2018 ran 400 epochs on a GPU; this is
enough for a few hundred labeled faces, minutes on a CPU)."""


def label_rows(face_rows: Iterable[dict[str, Any]], num_classes: int) -> Iterator[LabelRow]:
    """One :class:`LabelRow` per face, from ``Face`` values (streamed, not listed).

    ``image_path``, a local file of the face's image, is needed by the formats that pack
    images (:data:`FORMATS_WITH_IMAGES`) only.

    Votes are every vote the face holds: cast here (``class_votes``) plus imported with it
    (``imported_votes``), so a project imported from another's export exports them again.
    The label is the one the app trains or scores on: a review's (its reviewer in
    ``reviewed_by``; the votes stay as cast, so the export shows what the crowd said too), else
    for a test face its imported label, else the votes' aggregate, else the imported label.
    Optional keys: ``answers`` (``(user name, class indices)`` per live vote) and
    ``model_version`` (with ``predicted_class`` and ``predicted_confidence``).
    """
    for row in face_rows:
        votes = _padded(row["class_votes"], num_classes)
        imported = _padded(row.get("imported_votes"), num_classes)
        reviewed = row.get("reviewed_label") is not None
        yield LabelRow(
            file_name=row["source_name"] or f"face-{row['id']}.png",
            image_path=str(row.get("image_path", "")),
            votes=[cast + extra for cast, extra in zip(votes, imported, strict=True)],
            candidates=list(row["candidate_set"] or []),
            label=_final_label(row),
            num_votes=row["vote_count"] + sum(imported),
            reviewed_by=(row.get("reviewed_by") or "") if reviewed else "",
            split=row.get("split", "pool"),
            sha256=row.get("sha256", ""),
            answers=[Answer(name, tuple(classes)) for name, classes in row.get("answers", ())],
            prediction=_prediction(row),
        )


def _padded(counts: list[int] | None, num_classes: int) -> list[int]:
    values = [int(count) for count in (counts or [])][:num_classes]
    return values + [0] * (num_classes - len(values))


def _final_label(row: dict[str, Any]) -> int | None:
    order = ["reviewed_label", "label_index", "imported_label"]
    if row.get("split") == "test":
        order = ["imported_label", "reviewed_label", "label_index"]
    return next((row[key] for key in order if row.get(key) is not None), None)


def _prediction(row: dict[str, Any]) -> Prediction | None:
    if row.get("model_version") is None or row.get("predicted_class") is None:
        return None
    return Prediction(
        row["predicted_class"], row.get("predicted_confidence") or 0.0, str(row["model_version"])
    )


def write_label_set(
    format: str,
    out_dir: Path,
    class_names: tuple[str, ...],
    rows: Iterable[LabelRow],
    *,
    total: int,
    include_unlabeled: bool,
    progress: ProgressCallback,
    cancel: CancelFlag,
) -> tuple[Path, dict[str, Any]]:
    """Write the label set in ``format`` under ``out_dir``; returns the file and the writer's summary.

    ``include_unlabeled`` lets the FERPlus layout write faces without votes (as all-zero rows).
    """
    writer, file_name = LABEL_WRITERS[format]
    path = out_dir / file_name
    options: dict[str, Any] = {"total": total, "progress": progress, "cancel": cancel}
    if format == "ferplus":
        options["include_unvoted"] = include_unlabeled
    summary = writer(path, class_names, rows, **options)
    return path, {
        "rows": summary.rows,
        "skipped": summary.skipped,
        "missing_images": summary.missing_images[:100],
    }


def write_model(
    checkpoint: Path,
    format: str,
    out_dir: Path,
    provenance: dict[str, Any],
    *,
    progress: ProgressCallback,
    cancel: CancelFlag,
) -> tuple[Path, dict[str, Any]]:
    """Export a model version in ``format`` (verified by running it) as a zip with its model card.

    ``provenance["model_version"]`` is recorded in the card, the embedded metadata and the
    exported checkpoint (checkpoints are written before their version number exists).
    """
    from ml_engine.export.bundle import export_checkpoint, zip_model_export
    from ml_engine.export.model_card import TrainingProvenance

    fields = dict(provenance)
    version = fields.pop("model_version")
    exported = export_checkpoint(
        checkpoint,
        [format],
        out_dir,
        provenance=TrainingProvenance(**fields),
        model_version=version,
        progress=progress,
        cancel=cancel,
    )
    model = exported.exports[0]
    path = zip_model_export(exported, out_dir / f"model-v{version}-{format}.zip")
    return path, {
        "sha256": model.sha256,
        "max_abs_difference": model.max_abs_difference,
        "card": exported.card,
        "files": [Path(model.path).name, exported.card_markdown_path.name, exported.card_json_path.name],
    }


def write_distilled_set(
    inputs: Any, out_dir: Path, *, device: str, progress: ProgressCallback, cancel: CancelFlag
) -> tuple[Path, dict[str, Any]]:
    """Distil the labeled pool faces (plus, with the project's δ set, the kept auxiliary faces) to a zip.

    ``inputs`` are the project's :class:`~annotator.ml_bridge.cycle_inputs.CycleInputs`. Ten synthetic
    steps of one image per class, replayed three times (Wang et al. 2018's defaults), for a
    BatchNorm-free ConvNet at the project's image size; the card scores three fresh networks
    trained only on the set against the test split, which the distillation never sees.
    """
    from ml_engine.distillation.distill import DistillationConfig
    from ml_engine.distillation.faces import distill_faces
    from ml_engine.export.distilled_set import write_distilled_set as write

    dataset = training_dataset(inputs)
    trained_on, omni = dataset, {}
    if inputs.omni_supervised_delta is not None:
        trained_on, omni = with_auxiliary_faces(
            dataset, inputs.omni_supervised_delta, inputs.current_checkpoint, device=device
        )
    size = inputs.image_size
    depth = max(depth for depth in (0, 1, 2, 3) if size % 2**depth == 0)
    config = DistillationConfig(iterations=DISTILL_ITERATIONS, batch_size=256, init="real", seed=inputs.seed)
    distilled, card = distill_faces(
        config,
        trained_on.split("train"),
        dataset.split("test"),
        image_size=size,
        depth=depth,
        device=device,
        progress=progress,
        cancel=cancel,
        extra={"omni_supervision": omni},
    )
    path = out_dir / "distilled_set.zip"
    written = write(path, distilled, inputs.class_names, card)
    scores = written["test_accuracies"]
    return path, {
        "test_accuracy": round(sum(scores) / len(scores), 4) if scores else None,
        "test_faces": written["test_faces"],
        "training_faces": written["training_faces"],
        "images_per_class": written["images_per_class"],
    }
