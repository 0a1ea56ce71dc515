"""A distilled set as one zip: the synthetic images per class, the learned step sizes, a card.

Liu et al. ("Omni-supervised Facial Expression Recognition via Distilled Data", Sec. 3.4)
distil a training set into a few images per class (Wang et al. 2018, "Dataset
Distillation"); shared, such a set passes on what a project's labels teach without passing
on anyone's face. The images only teach in order and with their step sizes: a fresh
network replays ``T = steps x epochs`` SGD steps, step ``t`` on synthetic batch ``t mod
steps`` with step size ``η_t``. So the archive holds:

* ``distilled_set.npz``: ``images`` (float32, normalised pixel space, ``(steps, C x ipc, 1,
  S, S)``), ``labels``, ``step_sizes``, ``epochs``, ``class_names``, and the normalisation;
  this is what a network trains on (:func:`load_distilled_set` reads it back);
* ``images/<class>/<step>-<n>.png``: the same images as 8-bit grayscale, to look at (the
  float values go outside [0, 255], so the PNGs are clipped and are not for training);
* ``card.json`` and ``card.md``: how a fresh network trained on the set scores on a test
  set, how the set was made, and how to replay it.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ml_engine.atomic_write import atomic_zip
from ml_engine.data.transforms import FACE_NORMALISATION
from ml_engine.distillation.distill import DistilledSet
from ml_engine.export.image_folder_zip import class_folders

ARRAYS_NAME = "distilled_set.npz"


@dataclass(frozen=True)
class DistilledSetCard:
    """What a reader of the set needs to trust and reuse it.

    Attributes:
        test_accuracies: accuracy on the test set of each fresh network trained on the set.
        test_faces: faces in that test set (0: none was scored).
        training_faces: faces the set was distilled from.
        network: the network family the set was distilled for (it teaches that family).
        settings: the distillation settings.
        extra: anything else to record (e.g. the auxiliary-face selection).
    """

    test_accuracies: list[float]
    test_faces: int
    training_faces: int
    network: dict[str, Any]
    settings: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)


def _png(image: np.ndarray) -> bytes:
    pixels = image[0] * FACE_NORMALISATION.std + FACE_NORMALISATION.mean
    buffer = io.BytesIO()
    Image.fromarray(np.clip(np.rint(pixels * 255), 0, 255).astype(np.uint8), mode="L").save(buffer, "PNG")
    return buffer.getvalue()


def _card_markdown(card: dict[str, Any]) -> str:
    accuracies = card["test_accuracies"]
    score = (
        f"{100 * np.mean(accuracies):.1f}% (± {100 * np.std(accuracies):.1f}) over {len(accuracies)} fresh "
        f"networks on {card['test_faces']} test faces"
        if accuracies
        else "not scored (no test faces)"
    )
    return "\n".join(
        [
            "# Distilled set",
            "",
            f"{card['images_per_class']} synthetic images per class for {len(card['class_names'])} classes "
            f"({', '.join(card['class_names'])}), distilled from {card['training_faces']} faces "
            "(Wang et al. 2018, Dataset Distillation).",
            "",
            f"Test accuracy of a fresh network trained only on these images: {score}.",
            "",
            f"Replay: {len(card['step_sizes'])} SGD steps from a fresh {card['network'].get('name', '')} "
            f"network ({card['network']}); step t uses batch t mod {card['steps']} of `images` in "
            "`distilled_set.npz` with step size `step_sizes[t]`. The PNGs are for looking only.",
            "",
        ]
    )


def write_distilled_set(
    path: str | os.PathLike[str],
    distilled: DistilledSet,
    class_names: Sequence[str],
    card: DistilledSetCard,
) -> dict[str, Any]:
    """Write the zip atomically; returns the card as written (plain values)."""
    if len(class_names) != distilled.num_classes:
        raise ValueError(f"{len(class_names)} class names for a set of {distilled.num_classes} classes")
    folders = class_folders(class_names)
    images = distilled.images.float().numpy()
    steps, slots = images.shape[:2]
    written = {
        **card.__dict__,
        "class_names": list(class_names),
        "steps": steps,
        "images_per_class": steps * slots // distilled.num_classes,
        "step_sizes": [float(value) for value in distilled.step_sizes],
        "epochs": distilled.epochs,
    }
    arrays = io.BytesIO()
    np.savez(
        arrays,
        images=images,
        labels=distilled.labels.numpy(),
        step_sizes=distilled.step_sizes.float().numpy(),
        epochs=np.int64(distilled.epochs),
        class_names=np.asarray(class_names),
        normalisation=np.asarray([FACE_NORMALISATION.mean, FACE_NORMALISATION.std]),
    )
    with atomic_zip(path) as archive:
        archive.writestr(ARRAYS_NAME, arrays.getvalue())
        for step in range(steps):
            for slot in range(slots):
                label = int(distilled.labels[step, slot])
                archive.writestr(
                    f"images/{folders[label]}/{step:02d}-{slot:02d}.png", _png(images[step, slot])
                )
        archive.writestr("card.json", json.dumps(written, indent=2))
        archive.writestr("card.md", _card_markdown(written))
    return written


def load_distilled_set(path: str | os.PathLike[str]) -> tuple[DistilledSet, list[str], dict[str, Any]]:
    """The set, its class names and its card, read back from a zip :func:`write_distilled_set` wrote."""
    with zipfile.ZipFile(Path(path)) as archive:
        with np.load(io.BytesIO(archive.read(ARRAYS_NAME))) as arrays:
            class_names = [str(name) for name in arrays["class_names"]]
            distilled = DistilledSet(
                images=torch.from_numpy(arrays["images"]),
                labels=torch.from_numpy(arrays["labels"]),
                step_sizes=torch.from_numpy(arrays["step_sizes"]),
                epochs=int(arrays["epochs"]),
                num_classes=len(class_names),
            )
        card = json.loads(archive.read("card.json"))
    return distilled, class_names, card
