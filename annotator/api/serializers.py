"""DRF serializers: validate input into service arguments, render rows for the API and pages."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from annotator.api.class_rules import printable_name, validated_classes
from annotator.models import (
    MAX_VOTES,
    TAB_MAX_LENGTH,
    Cycle,
    Face,
    Job,
    Lease,
    Membership,
    ModelVersion,
    Project,
    ProjectClass,
    PseudoLabelOffer,
    Role,
    Split,
    Vote,
    VoteKind,
)
from annotator.selectors.budget import budget_status
from annotator.selectors.progress import job_waiting_for
from annotator.services.memberships import OWNERS, has_role
from annotator.services.projects import MAX_CLASSES
from annotator.services.time_on_screen import MAX_TIME_SPENT_MS


def media_url(name: str) -> str:
    return reverse("media", kwargs={"path": name})


class ProjectClassSerializer(serializers.ModelSerializer):
    key = serializers.CharField(max_length=1, required=False, allow_blank=True)
    color = serializers.RegexField(r"^#[0-9a-fA-F]{6}$", required=False, allow_blank=True)

    class Meta:
        model = ProjectClass
        fields = ["index", "name", "key", "color"]
        read_only_fields = ["index"]


class BudgetSerializer(serializers.Serializer):
    """A project's budget in votes, and the one sentence every page says about it."""

    total = serializers.IntegerField()
    spent = serializers.IntegerField()
    left = serializers.IntegerField()
    is_spent = serializers.BooleanField(help_text="What is left pays for no new face.")
    sentence = serializers.CharField()


class ProjectSerializer(serializers.ModelSerializer):
    classes = ProjectClassSerializer(
        many=True,
        min_length=2,
        max_length=MAX_CLASSES,
        help_text=f"From 2 to {MAX_CLASSES} classes, each with its own key.",
        error_messages={
            "min_length": "A project needs at least two classes.",
            "max_length": f"A project has at most {MAX_CLASSES} classes: each needs its own key.",
        },
    )
    owner = serializers.CharField(source="owner.username", read_only=True)
    votes_left = serializers.IntegerField(read_only=True)
    budget = serializers.SerializerMethodField(
        help_text="The budget's numbers and the sentence every page shows."
    )
    my_role = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "description",
            "owner",
            "my_role",
            "classes",
            "budget_votes",
            "votes_spent",
            "votes_left",
            "budget",
            "votes_per_face",
            "candidate_min_votes",
            "batch_size",
            "initial_set_size",
            "test_sample_size",
            "strategy",
            "training_mode",
            "auxiliary_tasks",
            "omni_supervised_delta",
            "ssl_method",
            "initial_selection",
            "backbone_weights_report",
            "model_name",
            "image_size",
            "seed",
            "lease_seconds",
            "min_face_ms",
            "show_model_suggestion",
            "offer_confirmations",
            "continuous_labeling",
            "warm_start",
            "class_balanced",
            "created_at",
        ]
        read_only_fields = ["votes_spent", "backbone_weights_report", "created_at"]

    def validate_classes(self, classes: list[dict]) -> list[dict]:
        return validated_classes(classes)

    def validate_name(self, name: str) -> str:
        return printable_name(name)

    def validate_description(self, description: str) -> str:
        return printable_name(description, multiline=True)

    @extend_schema_field(BudgetSerializer)
    def get_budget(self, project: Project) -> dict[str, object]:
        return budget_status(project)

    def get_my_role(self, project: Project) -> str | None:
        request = self.context.get("request")
        if request is None:
            return None
        membership = next((m for m in project.memberships.all() if m.user_id == request.user.id), None)
        return membership.role if membership else None


class ProjectUpdateSerializer(ProjectSerializer):
    """Settings only; classes are fixed once a project exists (models and votes index them)."""

    classes = ProjectClassSerializer(many=True, read_only=True)


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(
        source="user.username",
        help_text="The member's exact username; accounts are never looked up by e-mail address.",
    )
    role = serializers.ChoiceField(choices=Role.choices, default=Role.ANNOTATOR)

    class Meta:
        model = Membership
        fields = ["id", "username", "role", "quota_votes", "votes_cast", "joined_at"]
        read_only_fields = ["votes_cast", "joined_at"]


class MembershipUpdateSerializer(serializers.Serializer):
    """A member's new quota, role, or both."""

    quota_votes = serializers.IntegerField(min_value=0, max_value=MAX_VOTES, allow_null=True, required=False)
    role = serializers.ChoiceField(choices=Role.choices, required=False)


class MemberFaceImageSerializer(serializers.ModelSerializer):
    """A face as an annotator sees it: the image and its split, nothing that hints at its label.

    A test face's imported label is the answer the model is scored against; the source name
    can carry it too (an image-folder zip names each face after its class folder); votes and
    their aggregate would show an annotator what others answered, and the majority vote and the
    crowd model both assume each annotator answers independently.
    """

    image_url = serializers.SerializerMethodField()

    class Meta:
        model = Face
        fields = ["id", "image_url", "width", "height", "split", "created_at"]

    def get_image_url(self, face: Face) -> str:
        return media_url(face.image.name)


class FaceImageSerializer(MemberFaceImageSerializer):
    """A face as its project's owners see it, with its imported label, votes and aggregate.

    The fields annotators do not get are optional in the schema: they are left out, not null.
    """

    class Meta(MemberFaceImageSerializer.Meta):
        fields = [
            "id",
            "image_url",
            "source_name",
            "width",
            "height",
            "split",
            "imported_label",
            "vote_count",
            "class_votes",
            "label_index",
            "candidate_set",
            "created_at",
        ]


class FaceImageQuerySerializer(serializers.Serializer):
    """The images list's query; give it ``query_params.dict()`` so an empty ``split=`` is refused."""

    split = serializers.ChoiceField(choices=Split.choices, required=False)


def face_image_serializer_for(membership: Membership) -> type[MemberFaceImageSerializer]:
    return FaceImageSerializer if has_role(membership, OWNERS) else MemberFaceImageSerializer


class LeasedFaceSerializer(serializers.Serializer):
    """A face handed to an annotator under a lease."""

    lease_id = serializers.IntegerField(source="pk")
    face = serializers.IntegerField(source="entry.face_id")
    image_url = serializers.SerializerMethodField()
    expires_at = serializers.DateTimeField()
    suggestion = serializers.SerializerMethodField()

    def get_image_url(self, lease: Lease) -> str:
        return media_url(lease.entry.face.image.name)

    def get_suggestion(self, lease: Lease) -> int | None:
        """The selecting model's guess, only where the project shows it (off by default)."""
        return lease.entry.predicted_class if self.context.get("show_suggestion") else None


def tab_field() -> serializers.RegexField:
    return serializers.RegexField(
        r"^[A-Za-z0-9_-]*$",
        max_length=TAB_MAX_LENGTH,
        required=False,
        default="",
        allow_blank=True,
        help_text=(
            "The browser tab's id (letters, digits, - and _), made up by the page for each tab: two "
            "tabs of one person get different faces. Absent: the user's one default tab."
        ),
    )


class NextFacesInputSerializer(serializers.Serializer):
    count = serializers.IntegerField(min_value=1, max_value=5, default=3)
    tab = tab_field()


class UndoInputSerializer(serializers.Serializer):
    tab = tab_field()


class VoteInputSerializer(serializers.Serializer):
    client_id = serializers.UUIDField()
    face = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=VoteKind.choices)
    classes = serializers.ListField(
        child=serializers.IntegerField(), required=False, default=list, max_length=64
    )
    time_spent_ms = serializers.IntegerField(
        min_value=0, max_value=MAX_TIME_SPENT_MS, required=False, default=0
    )
    tab = tab_field()


class VoteSerializer(serializers.ModelSerializer):
    annotator = serializers.CharField(source="annotator.username", read_only=True)
    cycle = serializers.IntegerField(source="cycle.number", read_only=True, allow_null=True)

    class Meta:
        model = Vote
        fields = [
            "id",
            "client_id",
            "face",
            "annotator",
            "cycle",
            "kind",
            "class_index",
            "candidate_set",
            "time_spent_ms",
            "created_at",
            "retracted_at",
        ]


class UndoSerializer(serializers.Serializer):
    vote = VoteSerializer()
    face = LeasedFaceSerializer(allow_null=True)


class OfferSerializer(serializers.Serializer):
    """An open pseudo-label offer, shown to an annotator to confirm or reject.

    Pass ``class_names`` (by index) in the context.
    """

    id = serializers.IntegerField()
    face = serializers.IntegerField(source="face_id")
    image_url = serializers.SerializerMethodField()
    class_index = serializers.IntegerField()
    class_name = serializers.SerializerMethodField()
    confidence = serializers.FloatField()
    margin = serializers.FloatField()
    model_version = serializers.IntegerField(source="model_version.version")

    def get_image_url(self, offer: PseudoLabelOffer) -> str:
        return media_url(offer.face.image.name)

    def get_class_name(self, offer: PseudoLabelOffer) -> str:
        return self.context["class_names"][offer.class_index]


class NextOffersInputSerializer(serializers.Serializer):
    count = serializers.IntegerField(min_value=1, max_value=10, default=3)


class RequiredBooleanField(serializers.BooleanField):
    """A boolean the client must send, in a form too (DRF reads a form without it as false)."""

    default_empty_html = serializers.empty


class OfferAnswerInputSerializer(serializers.Serializer):
    accept = RequiredBooleanField(help_text="true confirms the model's class, false rejects it.")
    client_id = serializers.UUIDField()
    time_spent_ms = serializers.IntegerField(
        min_value=0, max_value=MAX_TIME_SPENT_MS, required=False, default=0
    )


class OfferAnswerSerializer(serializers.ModelSerializer):
    answered_by = serializers.CharField(source="answered_by.username", read_only=True, allow_null=True)

    class Meta:
        model = PseudoLabelOffer
        fields = [
            "id",
            "face",
            "class_index",
            "confidence",
            "state",
            "answered_by",
            "answered_at",
            "client_id",
            "time_spent_ms",
        ]


class OfferUndoSerializer(serializers.Serializer):
    offer = OfferSerializer()
    undone = serializers.CharField(help_text="The state the answer had: confirmed or rejected.")


class ImportInputSerializer(serializers.Serializer):
    files = serializers.ListField(child=serializers.FileField(), min_length=1, max_length=5000)
    split = serializers.ChoiceField(choices=["auto", Split.POOL, Split.TEST, Split.AUXILIARY], default="auto")
    job = serializers.IntegerField(
        required=False, min_value=1, help_text="A waiting job from POST .../imports/job/ to report to."
    )


class CycleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Cycle
        fields = [
            "id",
            "number",
            "state",
            "strategy",
            "batch_size",
            "initial_set_pending",
            "created_at",
            "labeling_completed_at",
            "finished_at",
        ]


class ModelVersionSerializer(serializers.ModelSerializer):
    cycle = serializers.IntegerField(source="cycle.number", read_only=True, allow_null=True)

    class Meta:
        model = ModelVersion
        fields = ["id", "version", "cycle", "labels_used", "started_from", "metrics", "created_at"]


class JobSerializer(serializers.ModelSerializer):
    waiting_for = serializers.SerializerMethodField(
        help_text="A queued job: what it waits for (the jobs running on its worker queue); else null."
    )

    class Meta:
        model = Job
        fields = [
            "id",
            "project",
            "kind",
            "state",
            "stage",
            "progress",
            "epoch",
            "loss",
            "message",
            "result",
            "cancel_requested",
            "attempts",
            "waiting_for",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_waiting_for(self, job: Job) -> str | None:
        return job_waiting_for(job)


class ProgressQuerySerializer(serializers.Serializer):
    tab = serializers.RegexField(
        r"^[A-Za-z0-9_-]*$",
        max_length=TAB_MAX_LENGTH,
        required=False,
        allow_blank=True,
        help_text="The asking tab's id: ``waiting`` then also says why an open batch has no face for it.",
    )


class ProgressSerializer(serializers.Serializer):
    budget_votes = serializers.IntegerField()
    votes_spent = serializers.IntegerField()
    votes_left = serializers.IntegerField()
    budget = serializers.DictField(help_text="The budget's numbers and the sentence every page shows.")
    cycle = serializers.DictField(
        allow_null=True,
        help_text=(
            "The batch being labeled, else the newest one and its state (training ...); selected_by: the "
            "model version that ranked it; provisional: a newer model is training and its batch will take "
            "over the faces nobody has started."
        ),
    )
    waiting = serializers.DictField(
        allow_null=True,
        help_text=(
            "Why no batch is open: reason (not_started, first_model, model_training, budget_spent, "
            "no_batch) and a message to show. With ``tab``, also why the open batch has no face for that "
            "tab: held_by_other_tab, held_by_others (with faces and free_in_seconds) or answered_all. "
            "Null when a face is free."
        ),
    )
    model_version = serializers.IntegerField(allow_null=True, help_text="The newest model version, if any.")
    jobs = JobSerializer(many=True, help_text="The project's queued and running jobs.")
    own_votes = serializers.IntegerField()
    quota_votes = serializers.IntegerField(allow_null=True)


class DashboardSerializer(serializers.Serializer):
    budget = serializers.DictField()
    pool_size = serializers.IntegerField()
    test_size = serializers.IntegerField()
    learning_curve_unavailable_reason = serializers.CharField(
        allow_null=True,
        help_text="Why there is no learning curve yet (no test labels, no model); null once there is.",
    )
    labels_per_class = serializers.ListField(child=serializers.DictField())
    unsure_faces = serializers.IntegerField()
    annotators = serializers.ListField(child=serializers.DictField())
    agreement = serializers.DictField()
    learning_curve = serializers.ListField(child=serializers.DictField())
    confusion = serializers.DictField(allow_null=True)
    reliability = serializers.DictField(
        allow_null=True, help_text="Dawid-Skene reliability per annotator, fitted with the newest model."
    )
    margins = serializers.DictField(
        allow_null=True,
        help_text="Ada-CM per-class margins after each epoch of the newest semi-supervised model.",
    )
    confirmations = serializers.DictField(
        help_text="Pseudo-label offers by state, and answers per annotator."
    )
    reviews = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="Reviews, counted apart from votes (they spend no budget), and excluded faces.",
    )
    cycle = serializers.DictField(allow_null=True)
    next_model = serializers.DictField(
        help_text="When the next model comes: votes to go, a training's estimated seconds, speed and a sentence."
    )
    jobs = JobSerializer(many=True)
    chosen_by = serializers.DictField(
        help_text="Queued faces by how they were chosen (strategy, newest_model, representative, random, "
        "initial, test_sample): labels, overall and per cycle."
    )
