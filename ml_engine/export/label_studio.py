"""A label set as Label Studio tasks: ``tasks.json`` and the images, zipped.

Label Studio's JSON tasks format (https://labelstud.io/guide/task_format) is a list of tasks::

    {"data": {"image": "images/a.png", "split": "pool", "label": "happiness", "sha256": "...",
              "reviewed_by": null, "file": "a.png"},
     "annotations": [{"completed_by": "ann", "was_cancelled": false,
                      "result": [{"type": "choices", "from_name": "label", "to_name": "image",
                                  "value": {"choices": ["happiness"]}}]}],
     "predictions": [{"model_version": "3", "score": 0.91, "result": [...same shape...]}]}

One annotation per answer: ``completed_by`` is the annotator's user name (Label Studio writes a
user id there; :mod:`ml_engine.data.importers.label_studio` reads either), an unsure answer
lists its candidate classes as several choices, and a skip is an annotation with
``was_cancelled: true`` and no result. Votes imported with a face (no annotator known) become
one annotation each by ``imported``. ``data.label`` is the face's final label (a review's,
else the votes'), ``data.split`` its FaceLoop split. The labeling config that matches
``from_name``/``to_name`` is written beside as ``label_config.xml``, so a Label Studio project
can be set up to show these tasks. Image paths are relative to the zip's root.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Unpack
from xml.sax.saxutils import quoteattr

from ml_engine.atomic_write import atomic_zip
from ml_engine.export.image_folder_zip import member_name
from ml_engine.export.label_rows import ExportSummary, LabelRow, check_class_names, check_row, unique_name
from ml_engine.export.streaming import ExportPath, RowTracking, track

TASKS_FILE = "tasks.json"
CONFIG_FILE = "label_config.xml"
FROM_NAME, TO_NAME = "label", "image"
IMPORTED_ANNOTATOR = "imported"
"""``completed_by`` of the votes a face was imported with, whose annotators are not known."""


def label_config(class_names: Sequence[str]) -> str:
    """The Label Studio labeling config whose names the exported results use."""
    choices = "\n".join(f"    <Choice value={quoteattr(name)}/>" for name in class_names)
    return (
        f'<View>\n  <Image name="{TO_NAME}" value="$image"/>\n'
        f'  <Choices name="{FROM_NAME}" toName="{TO_NAME}" choice="multiple">\n{choices}\n  </Choices>\n</View>\n'
    )


def choices_result(names: Sequence[str]) -> list[dict[str, Any]]:
    """A Label Studio ``result`` choosing ``names``."""
    value = {"choices": list(names)}
    return [{"type": "choices", "from_name": FROM_NAME, "to_name": TO_NAME, "value": value}]


def write_label_studio_zip(
    path: ExportPath, class_names: Sequence[str], rows: Iterable[LabelRow], **tracking: Unpack[RowTracking]
) -> ExportSummary:
    """Write ``rows`` as Label Studio tasks with their images at ``path`` (atomically).

    The tasks stream to a scratch file beside the zip, so no list of tasks is held in memory.
    """
    names = check_class_names(class_names)
    used: set[str] = set()
    written, missing = 0, []
    target = Path(path)
    with (
        atomic_zip(target) as archive,
        tempfile.TemporaryFile("w+", encoding="utf-8", dir=target.parent) as tasks,
    ):
        tasks.write("[")
        for row in track(rows, stage="export_labels_label_studio", **tracking):
            votes, _ = check_row(row, len(names))
            if not row.image_path or not Path(row.image_path).is_file():
                missing.append(row.file_name)
                continue
            member = unique_name(f"images/{member_name(row)}", used)
            archive.write(row.image_path, member)
            tasks.write(("," if written else "") + "\n" + json.dumps(_task(row, member, votes, names)))
            written += 1
        tasks.write("\n]\n")
        tasks.seek(0)
        with archive.open(TASKS_FILE, "w") as out:
            while chunk := tasks.read(1 << 20):
                out.write(chunk.encode("utf-8"))
        archive.writestr(CONFIG_FILE, label_config(names))
    return ExportSummary(str(path), written, {"missing_image": len(missing)} if missing else {}, missing)


def _task(row: LabelRow, member: str, votes: list[int], names: tuple[str, ...]) -> dict[str, Any]:
    annotations = [
        {
            "completed_by": answer.annotator,
            "was_cancelled": not answer.classes,
            "result": choices_result([names[c] for c in answer.classes]) if answer.classes else [],
        }
        for answer in row.answers
    ]
    imported = [v - sum(c in a.classes for a in row.answers) for c, v in enumerate(votes)]
    for class_index, count in enumerate(imported):
        annotations += [
            {
                "completed_by": IMPORTED_ANNOTATOR,
                "was_cancelled": False,
                "result": choices_result([names[class_index]]),
            }
        ] * max(count, 0)
    task: dict[str, Any] = {
        "data": {
            "image": member,
            "file": row.file_name,
            "split": row.split,
            "label": None if row.label is None else names[row.label],
            "reviewed_by": row.reviewed_by or None,
            "sha256": row.sha256,
        },
        "annotations": annotations,
        "predictions": [],
    }
    if row.prediction is not None:
        guess = row.prediction
        task["predictions"] = [
            {
                "model_version": guess.model_version,
                "score": round(float(guess.score), 6),
                "result": choices_result([names[guess.class_index]]),
            }
        ]
    return task
