"""factory-boy factories for the annotator's models; faces get real PNG files under MEDIA_ROOT."""

from __future__ import annotations

import uuid

import factory
import numpy as np
from django.contrib.auth import get_user_model

from annotator import file_store, ml_bridge
from annotator.media_layout import face_image_name
from annotator.ml_bridge.pseudo_labels import ConfirmablePseudoLabel
from annotator.models import MAX_VOTES, Face, Membership, ModelVersion, Project, PseudoLabelOffer, Role, Split
from annotator.services import budget_plan, confirmations, imports, labeling_start, projects, votes

CLASS_NAMES = ("neutral", "happiness", "surprise", "sadness")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("secret-pass")


def make_project(owner=None, *, classes=CLASS_NAMES, **settings) -> Project:
    """A project through the service (as the app creates them), with its classes and owner membership.

    Unlike the app's defaults (the measured best combination), a test project skips pre-training,
    so its first batch is random and opens at once, and each model trains from scratch; the tests of
    pre-training, representative first batches and warm starts set them.

    A budget too small for the plan (tests of a budget that runs out inside the initial set) is
    set after creation, as an owner lowering it once labeling started would leave it: the
    planner refuses such a plan at creation (tests/annotator/services/test_budget_plan.py).
    """
    owner = owner or UserFactory()
    defaults = {
        "name": "Faces",
        "budget_votes": 20,
        "initial_set_size": 6,
        "batch_size": 6,
        "seed": 7,
        "ssl_method": "none",
        "initial_selection": "random",
        "warm_start": False,
    }
    wanted = {**defaults, **settings}
    plan_fields = {field: wanted[field] for field in budget_plan.PLAN_FIELDS if field in wanted}
    tight = bool(budget_plan.plan_budget(Project(**plan_fields))["problems"])
    project = projects.create_project(
        owner,
        classes=projects.default_class_specs(classes),
        **{**wanted, "budget_votes": MAX_VOTES if tight else wanted["budget_votes"]},
    )
    if tight:
        Project.objects.filter(pk=project.pk).update(budget_votes=wanted["budget_votes"])
        project.refresh_from_db()
    return project


def synthetic_loop_project(
    name: str, *, pool: int, test: int, batch: int, budget_votes: int, faces_seed: int, **settings
) -> tuple[Project, dict[str, int]]:
    """A small-CNN project at 32 px that runs the whole loop (SimCLR pre-training, least
    confidence, strict batches of ``batch``, a random first batch that opens at once), with
    ``pool`` + ``test`` synthetic faces imported; and each face's true class by name."""
    owner = get_user_model().objects.create_user(f"owner-{name}", password="x")
    faces = ml_bridge.synthetic_faces(pool + test, seed=faces_seed, image_size=32)
    project = projects.create_project(
        owner,
        name=name,
        classes=projects.default_class_specs(faces.class_names),
        budget_votes=budget_votes,
        batch_size=batch,
        initial_set_size=batch,
        votes_per_face=1,
        strategy="least_confidence",
        ssl_method="simclr",
        model_name="small_cnn",
        image_size=32,
        continuous_labeling=False,
        initial_selection="random",
        warm_start=False,
        **settings,
    )
    imports.import_dataset(project, faces.subset(np.arange(pool)), split="pool")
    imports.import_dataset(project, faces.subset(np.arange(pool, pool + test)), split="test")
    return project, dict(zip(faces.names, faces.labels.tolist(), strict=True))


def add_annotator(project: Project, user=None, **fields) -> Membership:
    user = user or UserFactory()
    return Membership.objects.create(project=project, user=user, role=Role.ANNOTATOR, **fields)


def face_pixels(seed: int, size: int = 16) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size), dtype=np.uint8)


class FaceFactory(factory.django.DjangoModelFactory):
    """A face with distinct random pixels, stored like an imported one."""

    class Meta:
        model = Face

    project = factory.SubFactory("tests.annotator.factories.ProjectFactory")
    split = Split.POOL

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        seed = kwargs.pop("pixel_seed", None)
        encoded = ml_bridge.encode_pixels(face_pixels(seed if seed is not None else cls._counter()))
        face = model_class(*args, sha256=encoded.sha256, width=encoded.width, height=encoded.height, **kwargs)
        face.image.name = face_image_name(face.project_id, encoded.sha256)
        file_store.save_bytes(face.image.name, encoded.png)
        face.save()
        return face

    _next = 10_000

    @classmethod
    def _counter(cls) -> int:
        cls._next += 1
        return cls._next


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return make_project(**kwargs)


def make_labeling_project(pool: int = 10, test: int = 2, **settings) -> Project:
    """A project with ``pool`` pool faces, ``test`` labeled test faces, and cycle 0 open."""
    project = make_project(**settings)
    for _ in range(pool):
        FaceFactory(project=project)
    for i in range(test):
        FaceFactory(project=project, split=Split.TEST, imported_label=i % len(CLASS_NAMES))
    labeling_start.start_labeling(project)
    return project


class ModelVersionFactory(factory.django.DjangoModelFactory):
    """A recorded model version without files (enough for offers and the learning curve)."""

    class Meta:
        model = ModelVersion

    project = factory.SubFactory(ProjectFactory)
    version = factory.Sequence(lambda n: n + 1)
    labels_used = 0


def publish_test_offers(
    project: Project, offers: list[tuple[int, int, float]], *, margin: float = 0.9
) -> list[PseudoLabelOffer]:
    """Record the next model version and publish its offers, as the training job does.

    ``offers`` are ``(face_id, class_index, confidence)``; returns the offers opened, most
    confident first.
    """
    latest = project.model_versions.order_by("-version").first()
    version = ModelVersionFactory(project=project, version=(latest.version if latest else 0) + 1)
    confirmations.publish_offers(
        project,
        version,
        [
            ConfirmablePseudoLabel(face, class_index, confidence, margin)
            for face, class_index, confidence in offers
        ],
    )
    return list(PseudoLabelOffer.objects.filter(model_version=version).order_by("-confidence", "id"))


def write_pool_index(project, vectors_for) -> None:
    """Register an index of the pool, as a finished pre-training job leaves it."""
    from pathlib import Path

    from django.conf import settings

    from annotator.ml_bridge.similar import write_index_face_ids
    from annotator.models import Job, JobKind, JobState
    from ml_engine.index import EmbeddingIndex

    media = Path(settings.MEDIA_ROOT)
    ids = list(Face.objects.filter(project=project, split="pool").order_by("id").values_list("id", flat=True))
    folder = media / "projects" / str(project.pk) / "models" / "job-test"
    folder.mkdir(parents=True, exist_ok=True)
    index = EmbeddingIndex.build(np.stack([vectors_for(i) for i in range(len(ids))]), use_gpu=False).save(
        folder / "index.faiss"
    )
    face_ids = write_index_face_ids(folder, [str(i) for i in ids])
    Job.objects.create(
        project=project,
        kind=JobKind.PRETRAIN,
        state=JobState.SUCCEEDED,
        result={
            "index": str(index.relative_to(media)),
            ml_bridge.FACE_IDS_KEY: str(face_ids.relative_to(media)),
        },
    )


def cast_vote(project: Project, user, face_id: int, kind: str = "label", classes: tuple[int, ...] = (0,)):
    """One answer through the vote service, as a labeling page sends it (a fresh client id)."""
    return votes.submit_vote(
        project, user, face_id=face_id, answer=votes.Answer(kind, tuple(classes)), client_id=uuid.uuid4()
    )
