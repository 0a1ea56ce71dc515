"""Label Studio importer: a JSON list of tasks, alone or zipped with the images it names.

Each task (https://labelstud.io/guide/task_format) needs ``data.image``: a path relative to
the JSON file's folder (``images/a.png``), or a Label Studio upload URL
(``/data/upload/<project>/<file>`` or ``/data/local-files/?d=<path>``), found by its file name
among the images beside the JSON (Label Studio prefixes uploads with a random ``xxxxxxxx-``,
which is tried both with and without). Web URLs are not fetched.

Every annotation's ``choices`` results count one vote per chosen class (an answer with several
choices adds one to each, as an unsure answer does in FaceLoop); cancelled annotations
(``was_cancelled``) and result items of other types count nothing. The face's label is
``data.label`` when it names a class (FaceLoop's own export writes the final label there,
reviews applied), else the most-voted class when exactly one has the most votes. ``data.split``
(pool, train, test or auxiliary) picks the split; pool when absent. ``predictions`` are not
imported: they belong to the model that made them. Annotators are not recorded: the counts are
the face's crowd votes, as FERPlus stores them.

Unlike the folder importers, this one refuses the whole file on the first bad task (wrong
shape, a path that climbs out of the folder or is absolute, a missing image, a web URL): a
half-imported task list with votes silently dropped is worse than none. The JSON may be at
most :data:`MAX_TASKS_BYTES`, the limit a zip member has (``safe_zip.MAX_MEMBER_BYTES``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np

from ml_engine.data.dataset import UNLABELED, FaceDataset
from ml_engine.data.importers.image_files import is_image_name, list_files
from ml_engine.data.importers.safe_zip import MAX_MEMBER_BYTES

MAX_TASKS_BYTES = MAX_MEMBER_BYTES
TASK_SPLITS = {"pool": "pool", "train": "pool", "test": "test", "auxiliary": "auxiliary"}
UPLOAD_PREFIXES = ("/data/upload/", "data/upload/")
_UPLOAD_HASH = re.compile(r"^[0-9a-f]{8}-")


class LabelStudioTasks(FaceDataset):
    """Faces read from Label Studio tasks: every class they name must be one of the project's.

    A folder format drops a class the project lacks with its faces' labels; here the classes
    come from annotators' answers, so an unknown one means a different labeling config, and
    importing the rest would silently lose paid votes.
    """


class LabelStudioError(ValueError):
    """The task list cannot be imported; the message names the task and what is wrong."""


def find_tasks_file(folder: Path) -> Path | None:
    """The one ``.json`` file at the top of ``folder``, or ``None`` when there is none or several."""
    found = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".json"]
    return found[0] if len(found) == 1 else None


def looks_like_tasks(path: Path) -> bool:
    """Whether ``path`` is a ``.json`` file that starts as JSON (a few bytes read).

    An object is taken too, so a task file of the wrong shape is refused with the reason rather
    than its images imported with its annotations silently left behind.
    """
    if not path.is_file() or path.suffix.lower() != ".json":
        return False
    with open(path, "rb") as handle:
        start = handle.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    return start.startswith((b"[", b"{"))


def load_label_studio(path: str | os.PathLike[str]) -> FaceDataset:
    """Import a Label Studio tasks file, or a folder holding one beside its images.

    Raises:
        LabelStudioError: for a file too large, not JSON, not a list of tasks, or any task
            whose image cannot be found safely inside the folder.
    """
    root = Path(path)
    tasks_file = find_tasks_file(root) if root.is_dir() else root
    if tasks_file is None:
        raise LabelStudioError(f"{root.name}: expected exactly one Label Studio .json task file at the top")
    tasks = _read_tasks(tasks_file)
    folder = tasks_file.parent
    by_name = _images_by_name(folder)
    class_names: dict[str, None] = {}
    parsed = [_parse_task(task, number, folder, by_name, class_names) for number, task in enumerate(tasks, 1)]
    names = tuple(class_names)
    index = {name: i for i, name in enumerate(names)}
    votes = np.zeros((len(parsed), len(names)), dtype=np.int32)
    labels = np.full(len(parsed), UNLABELED, dtype=np.int64)
    for row, (_, _, _, chosen, label) in enumerate(parsed):
        for name in chosen:
            votes[row, index[name]] += 1
        labels[row] = index[label] if label is not None else _single_top(votes[row])
    return LabelStudioTasks(
        names,
        [source for source, _, _, _, _ in parsed],
        [str(image) for _, image, _, _, _ in parsed],
        labels,
        np.asarray([split for _, _, split, _, _ in parsed], dtype=object),
        votes,
    )


def _read_tasks(path: Path) -> list[Any]:
    size = path.stat().st_size
    if size > MAX_TASKS_BYTES:
        raise LabelStudioError(f"{path.name} is {size} bytes, more than the limit of {MAX_TASKS_BYTES}")
    try:
        tasks = json.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise LabelStudioError(f"{path.name} is not JSON: {error}") from None
    if not isinstance(tasks, list) or not tasks:
        raise LabelStudioError(f"{path.name}: expected a non-empty JSON list of Label Studio tasks")
    return tasks


def _images_by_name(folder: Path) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}
    for image in (p for p in list_files(folder) if is_image_name(p.name)):
        found.setdefault(image.name, []).append(image)
    return found


def _parse_task(
    task: Any, number: int, folder: Path, by_name: dict[str, list[Path]], class_names: dict[str, None]
) -> tuple[str, Path, str, list[str], str | None]:
    """``(source name, image path, split, chosen class names, label)`` of one task."""
    where = f"task {number}"
    data = task.get("data") if isinstance(task, Mapping) else None
    if not isinstance(data, Mapping) or not isinstance(data.get("image"), str) or not data["image"]:
        raise LabelStudioError(f"{where}: expected an object with data.image, a path or URL of the image")
    image = _resolve_image(data["image"], folder, by_name, where)
    split = TASK_SPLITS.get(str(data.get("split") or "pool"))
    if split is None:
        raise LabelStudioError(
            f"{where}: data.split {data.get('split')!r} is not one of {sorted(TASK_SPLITS)}"
        )
    chosen = [
        name for annotation in _list(task, "annotations", where) for name in _choices(annotation, where)
    ]
    label = data.get("label")
    if label is not None and not isinstance(label, str):
        raise LabelStudioError(f"{where}: data.label must be a class name or null")
    for name in [*chosen, *([label] if label else [])]:
        class_names.setdefault(name)
    source = data.get("file") if isinstance(data.get("file"), str) and data.get("file") else image.name
    return str(source), image, split, chosen, label or None


def _list(task: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = task.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise LabelStudioError(f"{where}: {key} must be a list")
    return value


def _choices(annotation: Any, where: str) -> list[str]:
    """The class names one annotation chose; none for a cancelled one."""
    if not isinstance(annotation, Mapping) or not isinstance(annotation.get("result", []), list):
        raise LabelStudioError(f"{where}: each annotation must be an object with a result list")
    if annotation.get("was_cancelled"):
        return []
    chosen: list[str] = []
    for item in annotation.get("result", []):
        if not isinstance(item, Mapping) or item.get("type") != "choices":
            continue
        value = item.get("value")
        names = value.get("choices") if isinstance(value, Mapping) else None
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise LabelStudioError(f"{where}: a choices result needs value.choices, a list of class names")
        chosen += [name for name in dict.fromkeys(names) if name not in chosen]
    return chosen


def _resolve_image(reference: str, folder: Path, by_name: dict[str, list[Path]], where: str) -> Path:
    """The image file ``reference`` names, inside ``folder`` (see the module docstring)."""
    parts = urlsplit(reference)
    if parts.scheme in ("http", "https", "s3", "gs", "azure-blob") or parts.netloc:
        raise LabelStudioError(
            f"{where}: image {reference!r} is a web URL; put the images in the zip instead"
        )
    path = unquote(parts.path)
    if path.startswith(UPLOAD_PREFIXES) or path.rstrip("/").endswith("/data/local-files"):
        local = parse_qs(parts.query).get("d", [path])[0]
        return _by_file_name(PurePosixPath(local).name, by_name, reference, where)
    relative = PurePosixPath(path.replace("\\", "/"))
    if relative.is_absolute() or re.match(r"^[A-Za-z]:", path) or ".." in relative.parts:
        raise LabelStudioError(f"{where}: image path {reference!r} is absolute or climbs out of the folder")
    candidate = folder / relative
    if not candidate.is_file() or not candidate.resolve().is_relative_to(folder.resolve()):
        raise LabelStudioError(f"{where}: image {reference!r} is missing")
    return candidate


def _by_file_name(name: str, by_name: dict[str, list[Path]], reference: str, where: str) -> Path:
    for candidate in dict.fromkeys([name, _UPLOAD_HASH.sub("", name)]):
        found = by_name.get(candidate, [])
        if len(found) > 1:
            raise LabelStudioError(
                f"{where}: image {reference!r} matches {len(found)} files named {candidate!r}"
            )
        if found:
            return found[0]
    raise LabelStudioError(f"{where}: image {reference!r} is missing (no file named {name!r} in the upload)")


def _single_top(votes: np.ndarray) -> int:
    """The most-voted class when exactly one class has the most votes, else unlabeled."""
    if not votes.size or votes.max() == 0 or (votes == votes.max()).sum() != 1:
        return UNLABELED
    return int(votes.argmax())
