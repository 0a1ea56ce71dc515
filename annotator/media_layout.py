"""The storage name of each file of a project: the one place that spells them.

Everything FaceLoop writes lives under ``projects/<project id>/<kind>/``. Faces are stored
under the checksum of their pixels, fanned out by its first two hex digits so that no folder
holds more than a 256th of a large project's faces. The models, the import service and the
media view all take their paths from here, so a face is found where it was written. This
module imports nothing from Django, so models can use it.
"""

from __future__ import annotations

from enum import StrEnum

PROJECTS_FOLDER = "projects"


class MediaKind(StrEnum):
    """The folders under ``projects/<id>/``; each is served to the role the API allows."""

    FACES = "faces"
    EXPORTS = "exports"
    MODELS = "models"

    @property
    def owners_only(self) -> bool:
        return self is not MediaKind.FACES


class JobFolder(StrEnum):
    """The folders under ``projects/<id>/`` a worker job writes in, each job in its own ``job-<id>``.

    Models and exports are served (:class:`MediaKind`); a comparison's replays are not.
    """

    MODELS = MediaKind.MODELS.value
    EXPORTS = MediaKind.EXPORTS.value
    COMPARISONS = "comparisons"


def job_folder_name(project_id: int, folder: JobFolder, job_id: int) -> str:
    """The storage name of the folder job ``job_id`` writes its files in."""
    return f"{PROJECTS_FOLDER}/{project_id}/{folder}/job-{job_id}"


def backbone_weights_name(project_id: int, token: str) -> str:
    """The storage name of the ResNet-18 weights an owner gave the project to start from.

    Each file given gets its own ``token``, so a name never holds two different files and a
    worker's cached copy of an earlier one is never taken for a later one.
    """
    return f"{PROJECTS_FOLDER}/{project_id}/{MediaKind.MODELS}/backbone-weights-{token}.pt"


def face_image_name(project_id: int, sha256: str) -> str:
    """The storage name of a project's face with pixel checksum ``sha256``."""
    return f"{PROJECTS_FOLDER}/{project_id}/{MediaKind.FACES}/{sha256[:2]}/{sha256}.png"
