"""The choices pages offer, from values the server defines once, with the words pages show for them.

The export registry, the import splits, the reserved keys and the class palette are defined in
the services; the templates and the page configuration read them from here, so a format or a
split added there appears on the pages without a second list to keep in step.
"""

from __future__ import annotations

from collections.abc import Iterable

from annotator.models import JobKind
from annotator.services import exports
from annotator.services.imports import SPLIT_MODES
from annotator.services.project_classes import RESERVED_KEY_NAMES
from annotator.services.projects import PALETTE

EXPORT_FORMAT_TITLES = {
    "csv": "CSV",
    "jsonl": "JSON Lines",
    "imagefolder": "ImageFolder zip",
    "ferplus": "FERPlus folders (zip)",
    "labelstudio": "Label Studio tasks (zip)",
    "hf_imagefolder": "Hugging Face ImageFolder (zip)",
    "onnx": "ONNX",
    "torchscript": "TorchScript",
    "pytorch": "PyTorch checkpoint",
}
"""What each export format is called on the dashboard, in the order it lists them."""

EXPORT_FACE_TITLES = {
    "all": "all faces, every split",
    "labeled": "labeled faces only (a label or a vote), every split",
}
"""Which faces a label set holds, as the dashboard offers it, the default first."""

SPLIT_MODE_TITLES = {
    "auto": "the pool, and the file's test (and auxiliary) faces in the test (and auxiliary) set",
    "pool": "the pool (to be labeled)",
    "test": "the test set (labeled; never queued)",
    "auxiliary": "the auxiliary set (never queued nor paid for; pseudo-labeled for training)",
}
"""Where the import page says each split mode puts the faces, the default first."""


def titled(values: Iterable[str], titles: dict[str, str]) -> list[tuple[str, str]]:
    """``(value, title)`` for each value, in the order of ``titles``; a value without a title
    comes last under its own name, so nothing the server accepts is left off a page."""
    values = list(values)
    known = [(value, title) for value, title in titles.items() if value in values]
    return known + [(value, value) for value in values if value not in titles]


def label_formats() -> list[tuple[str, str]]:
    return titled(exports.LABEL_FORMATS, EXPORT_FORMAT_TITLES)


def export_face_choices() -> list[tuple[str, str]]:
    return titled(exports.FACE_CHOICES, EXPORT_FACE_TITLES)


def model_formats() -> list[tuple[str, str]]:
    return titled(exports.MODEL_FORMATS, EXPORT_FORMAT_TITLES)


def split_modes() -> list[tuple[str, str]]:
    return titled(SPLIT_MODES, SPLIT_MODE_TITLES)


def reserved_keys() -> dict[str, str]:
    """Each key the labeling page keeps for itself, to the action it does."""
    return dict(RESERVED_KEY_NAMES)


def action_keys() -> dict[str, str]:
    """Each action the labeling page keeps a key for, to that key (for templates: ``keys.undo``)."""
    return {action: key for key, action in RESERVED_KEY_NAMES.items()}


def job_kinds() -> dict[str, str]:
    """What pages call each kind of job, in the middle of a sentence ("training #3: running")."""
    return {kind: label.lower() for kind, label in JobKind.choices}


def palette() -> list[str]:
    """The colours new classes get, in turn."""
    return list(PALETTE)
