"""Pages that run a project from the browser: new project, settings, team, review, faces, invites.

Like the other pages they render a frame and the page's configuration; everything they
change goes through the REST API, so the pages and the API cannot disagree.
"""

from __future__ import annotations

from dataclasses import asdict

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from annotator.models import (
    BOUNDS,
    ExclusionReason,
    InitialSelection,
    Project,
    Role,
    SslMethod,
    Strategy,
    TrainingMode,
)
from annotator.services import invites
from annotator.services.errors import InvalidInput
from annotator.services.memberships import OWNERS, REVIEWERS
from annotator.services.project_settings import FORM_SETTINGS, measured_default_note
from annotator.services.reviews import REASONS
from annotator.web import page_choices
from annotator.web.views import page_membership, render_project_page

STRATEGY_HELP = {
    "random": "Faces drawn at random: the baseline; fine for the first batch.",
    "least_confidence": "Faces the model is least sure of; a strong, cheap default.",
    "entropy": "Faces whose predicted classes are most spread out; like least confidence, over all classes.",
    "margin": "Faces whose top two classes are closest; good when two expressions get confused.",
    "badge": "Uncertain and diverse at once; good from the second batch on.",
    "coreset": "Faces that cover the pool's variety; good for a broad first model.",
    "bald": "Faces the model disagrees with itself on (MC dropout); slower, several passes per face.",
    "glister": "Faces that most improve the model on its labeled set; slowest, for small pools.",
    "deepfool": "Faces closest to a decision boundary (adversarial); slow, needs the model per face.",
}
TRAINING_HELP = {
    "supervised": "Train on each face's majority label; the simple default.",
    "vote_distribution": "Train on how the votes split; pick it with several votes per face.",
    "crowd_model": "Weigh each annotator by estimated reliability (Dawid-Skene); for noisy crowds.",
    "partial_label": "Learn from sets of plausible classes (unsure answers); for ambiguous faces.",
    "semi_supervised": "Also learn from unlabeled faces (Ada-CM). On FER+ with 500 labels and the app's "
    "pre-training: 57.9% against 54.3% for supervised (3 seeds), each training about 5.5x as long.",
}
SSL_HELP = {
    "none": "No pre-training: the first model starts from scratch.",
    "simclr": "SimCLR contrastive pre-training on the pool while the first batch is labeled.",
    "moco": "MoCo v2: contrastive with a queue of negatives; steadier with small batches.",
    "byol": "BYOL: no negatives needed; robust to batch size.",
    "swav": "SwAV: clusters the pool while learning; good for large pools.",
    "barlow_twins": "Barlow Twins: decorrelates features; simple and stable.",
}
INITIAL_HELP = {
    "random": "Drawn at random with the project's seed; labelers start at once (seed 000).",
    "kmeans": "The faces nearest the centres of k-means clusters of the pre-trained embeddings: every kind "
    "of face is asked about once. Labelers start when pre-training ends (the test sample is ready before).",
    "typiclust": "The most typical face of each cluster of the pre-trained embeddings (TypiClust, "
    "Hacohen et al. 2022). Labelers start when pre-training ends (the test sample is ready before).",
}

CHOICES = {
    "strategy": (Strategy.choices, STRATEGY_HELP),
    "training_mode": (TrainingMode.choices, TRAINING_HELP),
    "ssl_method": (SslMethod.choices, SSL_HELP),
    "initial_selection": (InitialSelection.choices, INITIAL_HELP),
}
"""Each choice setting's options, and the sentence each option shows under its select."""


def _bounds() -> dict[str, dict[str, int]]:
    return {field: {"min": bounds.low, "max": bounds.high} for field, bounds in BOUNDS.items()}


def _choices(choices: list[tuple[str, str]], help_texts: dict[str, str]) -> list[dict[str, str]]:
    return [{"value": value, "label": label, "help": help_texts.get(value, "")} for value, label in choices]


def _setting_fields() -> list[dict[str, object]]:
    """The form's settings (:data:`~annotator.services.project_settings.FORM_SETTINGS`), each with
    the value a new project starts from, whether it may be left empty, and the note of a default
    measured best (:func:`~annotator.services.project_settings.measured_default_note`)."""
    fields = []
    for setting in FORM_SETTINGS:
        model_field = Project._meta.get_field(setting.name)
        value = model_field.default if model_field.has_default() else setting.initial
        fields.append(
            {
                **asdict(setting),
                "value": value,
                "required": not model_field.null,
                "measured_note": measured_default_note(setting),
            }
        )
    return fields


def _setup_config() -> dict[str, object]:
    return {
        "settingFields": [setting.name for setting in FORM_SETTINGS],
        "bounds": _bounds(),
        "choices": {field: _choices(*options) for field, options in CHOICES.items()},
        "reservedKeys": page_choices.reserved_keys(),
        "palette": page_choices.palette(),
    }


@login_required
def new_project(request: HttpRequest) -> HttpResponse:
    """Anyone signed in may start a project; they become its owner."""
    config = {"projectId": None, **_setup_config()}
    return render(
        request, "annotator/new_project.html", {"config": config, "setting_fields": _setting_fields()}
    )


@login_required
def project_settings(request: HttpRequest, project_id: int) -> HttpResponse:
    membership = page_membership(request, project_id, OWNERS)
    return render_project_page(
        request,
        membership,
        "annotator/settings.html",
        config=_setup_config(),
        setting_fields=_setting_fields(),
    )


@login_required
def team(request: HttpRequest, project_id: int) -> HttpResponse:
    membership = page_membership(request, project_id, OWNERS)
    return render_project_page(request, membership, "annotator/team.html", config={"roles": Role.values})


@login_required
def review(request: HttpRequest, project_id: int) -> HttpResponse:
    membership = page_membership(request, project_id, REVIEWERS)
    return render_project_page(
        request, membership, "annotator/review.html", config={"reasons": list(REASONS)}
    )


@login_required
def faces(request: HttpRequest, project_id: int) -> HttpResponse:
    return render_project_page(
        request, page_membership(request, project_id, REVIEWERS), "annotator/faces.html"
    )


@login_required
def face(request: HttpRequest, project_id: int, face_id: int) -> HttpResponse:
    reasons = [{"value": value, "label": label} for value, label in ExclusionReason.choices]
    config = {"faceId": face_id, "exclusionReasons": reasons}
    membership = page_membership(request, project_id, REVIEWERS)
    return render_project_page(request, membership, "annotator/face.html", config=config)


def invite(request: HttpRequest, token: str) -> HttpResponse:
    """The invitee's page: no account needed. An unusable link says why, with status 410."""
    try:
        found = invites.usable_invite(token)
    except InvalidInput as error:
        return render(request, "annotator/invite.html", {"problem": error.message}, status=410)
    config = {"projectId": None, "token": token, "project": found.project.name, "role": found.role}
    return render(request, "annotator/invite.html", {"invite": found, "config": config})
