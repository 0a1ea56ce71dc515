"""The settings an owner may change: one declaration the service, the API and the project form read.

It also says which defaults were measured best together (:data:`MEASURED_DEFAULTS`): a new
project starts with them, and the form and the API schema show the figure behind them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from django.db.models import Field

from annotator.models import Project

Kind = Literal["", "text", "number", "choice", "switch"]


@dataclass(frozen=True)
class Setting:
    """One project setting an owner may change.

    Attributes:
        name: the ``Project`` field, as the API names it.
        kind: how the project form shows it: ``text`` (the name card), ``number``, ``choice`` (a
            select whose options carry their own help), ``switch``; empty where only the API
            changes it.
        label: the form's label.
        help: the form's one sentence under the field.
        initial: the new-project form's value where the model has no default.
        placeholder: what an empty number field says it means.
        measured: the model's default for it is part of the combination measured best
            (:data:`MEASURED_DEFAULTS`).
    """

    name: str
    kind: Kind = ""
    label: str = ""
    help: str = ""
    initial: int | None = None
    placeholder: str = ""
    measured: bool = False


MEASURED_DEFAULTS = (
    "with the other measured defaults, 66.89% vs 60.40% for pre-trained random picks at 2,000 labels "
    "on FER2013Valid (3 seeds), random's accuracy with 48% fewer labels (bench/al_real_faces.py "
    "--configs ablation)"
)
"""The figure behind the defaults of the settings marked ``measured``, measured together: least
confidence, supervised training (low-variance with the 1,000-step floor, as every mode trains),
SimCLR pre-training, a TypiClust first batch and warm starts. FER+: a 5,000-face pool of
FER2013Train, 10% initial, four trainings to 40% labeled, ResNet-18 8 epochs, SimCLR 53 epochs
on the pool (1,007 steps, what the app runs on a pool that size), tested on FER2013Valid;
random's 2,000-label accuracy reached at 1,032 labels. With a 500-step training floor the same
combination measured 64.10% and took 1,091 labels; on a weaker pre-training (475 steps) it took
1,030 labels against a weaker random (54.73%). On a held-out FER+ split (SimCLR on 10,000 pool
faces) the combination as it was with a validation slice measured 63.90% vs 61.14% at 2,000
labels, random's accuracy with about 1,440 labels (28% fewer). The app's earlier defaults (a
random first batch, no warm start) measured 60.52% there at 2,000 labels (2 seeds): below
random."""


def measured_default_note(setting: Setting) -> str:
    """ "Measured default: <the model's default, as the form names it> — <the figure>"; empty for a
    setting whose default was not measured."""
    if not setting.measured:
        return ""
    field = Project._meta.get_field(setting.name)
    assert isinstance(field, Field)  # a setting is a plain column, never a relation
    default = field.default
    value = ("on" if default else "off") if isinstance(default, bool) else dict(field.flatchoices)[default]
    return f"Measured default: {value} — {MEASURED_DEFAULTS}."


SETTINGS: tuple[Setting, ...] = (
    Setting("name", "text", "Name"),
    Setting("description", "text", "Description"),
    Setting(
        "budget_votes",
        "number",
        "Budget (votes)",
        "Total votes you pay for; labeling stops when they are spent.",
        initial=1000,
    ),
    Setting(
        "votes_per_face",
        "number",
        "Votes per face",
        "How many annotators answer each face; more votes, better labels, fewer faces.",
    ),
    Setting("batch_size", "number", "Batch size", "Faces per batch; the model retrains after each batch."),
    Setting(
        "initial_set_size", "number", "Initial set size", "Faces in the first batch, before any model exists."
    ),
    Setting(
        "test_sample_size",
        "number",
        "Test sample (faces)",
        "Faces set aside from the pool as the test set when you import no labeled test faces.",
        placeholder="5% of the pool, at most 500",
    ),
    Setting(
        "lease_seconds",
        "number",
        "Lease time (seconds)",
        "How long a face stays an annotator's after their tab's last sign of life (the labeling page "
        "renews it while open, and gives it back when hidden or closed).",
    ),
    Setting(
        "min_face_ms",
        "number",
        "Minimum time on screen (ms)",
        "A key answers a face only after it was on screen this long (guards double presses; 0: off).",
    ),
    Setting("strategy", "choice", "Query strategy", measured=True),
    Setting("training_mode", "choice", "Training mode", measured=True),
    Setting("ssl_method", "choice", "Self-supervised pre-training", measured=True),
    Setting("initial_selection", "choice", "First batch", measured=True),
    Setting(
        "show_model_suggestion",
        "switch",
        "Show the model's suggestion",
        "Show annotators the model's guess; faster, but it biases their answers.",
    ),
    Setting(
        "continuous_labeling",
        "switch",
        "Continuous labeling",
        "Labelers go on with the previous model's picks while the next one trains; no waiting.",
    ),
    Setting(
        "warm_start",
        "switch",
        "Warm start",
        "Each model fine-tunes the previous one instead of starting over; shorter turns.",
        measured=True,
    ),
    Setting(
        "offer_confirmations",
        "switch",
        "Offer pseudo-label confirmations",
        "Offer the model's confident guesses for one-key confirmation (semi-supervised only).",
    ),
    Setting("candidate_min_votes"),
    Setting("auxiliary_tasks"),
    Setting("omni_supervised_delta"),
    Setting("model_name"),
    Setting("image_size"),
    Setting("seed"),
    Setting("class_balanced"),
)

EDITABLE_FIELDS = frozenset(setting.name for setting in SETTINGS)
FORM_SETTINGS = tuple(setting for setting in SETTINGS if setting.kind)
"""The settings the new-project and settings pages show, in their order."""
