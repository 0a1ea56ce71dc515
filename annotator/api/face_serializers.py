"""Serializers of a project's faces: the face list shaped by role, one face's record, reviews, exclusions."""

from __future__ import annotations

from rest_framework import serializers

from annotator.api.class_rules import printable_name
from annotator.api.fields import media_url
from annotator.face_browser import SORTS, STATES, state_of
from annotator.models import ExclusionReason, Face, Membership, Review, Split
from annotator.services.memberships import OWNERS, REVIEWERS, has_role
from annotator.services.reviews import REASONS


class AnnotatorFaceSerializer(serializers.ModelSerializer):
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


class FaceStateField(serializers.ChoiceField):
    """A face's labeling state (:func:`state_of`), read from the whole face; output only."""

    def __init__(self, **options: object) -> None:
        super().__init__(choices=STATES, source="*", **options)

    def to_representation(self, face: Face) -> str:
        return state_of(face)


class BrowsedFaceSerializer(AnnotatorFaceSerializer):
    """A face as a grid cell for reviewers and owners: thumbnail, state, labels and the model's guess.

    The fields annotators do not get are optional in the schema: they are left out, not null.
    """

    # Not read-only: the schema marks read-only fields required, and annotators never get these.
    state = FaceStateField(required=False)
    final_label = serializers.IntegerField(allow_null=True, required=False)

    class Meta(AnnotatorFaceSerializer.Meta):
        fields = [
            *AnnotatorFaceSerializer.Meta.fields,
            "source_name",
            "state",
            "vote_count",
            "label_index",
            "reviewed_label",
            "final_label",
            "top_vote_share",
            "predicted_class",
            "predicted_confidence",
            "excluded",
        ]


class OwnerBrowsedFaceSerializer(BrowsedFaceSerializer):
    """A face as its project's owners browse it: also its imported label, votes and candidate set."""

    class_votes = serializers.ListField(
        child=serializers.IntegerField(), required=False, help_text="Votes naming each class, by index."
    )
    candidate_set = serializers.ListField(
        child=serializers.IntegerField(), required=False, help_text="The classes the votes leave possible."
    )

    class Meta(BrowsedFaceSerializer.Meta):
        fields = [*BrowsedFaceSerializer.Meta.fields, "imported_label", "class_votes", "candidate_set"]


def browsed_face_serializer_for(membership: Membership) -> type[AnnotatorFaceSerializer]:
    """The face list's record for ``membership``'s role: annotators get only the image and split."""
    if has_role(membership, OWNERS):
        return OwnerBrowsedFaceSerializer
    return BrowsedFaceSerializer if has_role(membership, REVIEWERS) else AnnotatorFaceSerializer


class FacePageSerializer(serializers.Serializer):
    """A page of the face list; its records are shaped by the reader's role (owners' shape here)."""

    results = OwnerBrowsedFaceSerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text="Cursor of the next page; null on the last.")


class FaceQuerySerializer(serializers.Serializer):
    """The face list's filters and sort; give it ``query_params.dict()``.

    Annotators may pass only ``split``, ``after`` and ``limit`` (:data:`ANNOTATOR_QUERY`).
    """

    split = serializers.ChoiceField(choices=Split.choices, required=False)
    state = serializers.ChoiceField(choices=STATES, required=False)
    label = serializers.IntegerField(min_value=0, max_value=255, required=False)
    share_min = serializers.FloatField(min_value=0, max_value=1, required=False)
    share_max = serializers.FloatField(min_value=0, max_value=1, required=False)
    predicted = serializers.IntegerField(min_value=0, max_value=255, required=False)
    confidence_min = serializers.FloatField(min_value=0, max_value=1, required=False)
    confidence_max = serializers.FloatField(min_value=0, max_value=1, required=False)
    disagrees = serializers.BooleanField(required=False, allow_null=True, default=None)
    sort = serializers.ChoiceField(choices=list(SORTS), default="id")
    after = serializers.CharField(required=False, max_length=500)
    limit = serializers.IntegerField(min_value=1, max_value=200, default=100)


ANNOTATOR_QUERY = frozenset({"split", "after", "limit"})
"""The face list's query parameters an annotator may pass; the other filters and sorts read labels."""


class VoteRecordSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    annotator = serializers.CharField()
    kind = serializers.CharField()
    classes = serializers.ListField(child=serializers.IntegerField())
    time_spent_ms = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    retracted_at = serializers.DateTimeField(allow_null=True)


class ReviewSerializer(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.username", read_only=True)

    class Meta:
        model = Review
        fields = ["id", "face", "reviewer", "label_before", "label_after", "created_at", "undone_at"]
        read_only_fields = fields


class ReviewInputSerializer(serializers.Serializer):
    face = serializers.IntegerField(min_value=1)
    label = serializers.IntegerField(min_value=0, max_value=255)


class ReviewCandidateSerializer(serializers.Serializer):
    """A face to review with everything a reviewer weighs: votes, aggregate and the model's guess."""

    reason = serializers.ChoiceField(choices=REASONS)
    face = BrowsedFaceSerializer()
    class_votes = serializers.ListField(source="face.class_votes", child=serializers.IntegerField())
    candidate_set = serializers.ListField(source="face.candidate_set", child=serializers.IntegerField())


class ReviewQuerySerializer(serializers.Serializer):
    count = serializers.IntegerField(min_value=1, max_value=10, default=1)
    reason = serializers.ChoiceField(choices=REASONS, required=False)


class ExclusionInputSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=ExclusionReason.choices)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")

    def validate_note(self, note: str) -> str:
        return printable_name(note, multiline=True)


class ExclusionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    face = serializers.IntegerField(source="face_id")
    reason = serializers.CharField()
    note = serializers.CharField()
    excluded_by = serializers.CharField(source="excluded_by.username")
    created_at = serializers.DateTimeField()
    undone_at = serializers.DateTimeField(allow_null=True)
    undone_by = serializers.CharField(source="undone_by.username", allow_null=True, default=None)


class SimilarFaceSerializer(serializers.Serializer):
    face = serializers.IntegerField(source="face_id")
    image_url = serializers.CharField()
    similarity = serializers.FloatField()
    near_duplicate = serializers.BooleanField()
    final_label = serializers.IntegerField(allow_null=True)
    excluded = serializers.BooleanField()


class SimilarFacesSerializer(serializers.Serializer):
    indexed = serializers.BooleanField(help_text="False until a pre-training job wrote the pool's index.")
    detail = serializers.CharField()
    faces = SimilarFaceSerializer(many=True)


class FaceDetailSerializer(serializers.Serializer):
    """One face's whole record, as the face page shows it; an annotator gets ``face`` alone.

    Everything but ``face`` is optional in the schema: left out for annotators, not null.
    """

    face = BrowsedFaceSerializer()
    imported_label = serializers.IntegerField(allow_null=True, required=False)
    class_votes = serializers.ListField(child=serializers.IntegerField(), required=False)
    candidate_set = serializers.ListField(child=serializers.IntegerField(), required=False)
    votes = VoteRecordSerializer(many=True, required=False)
    reviews = ReviewSerializer(many=True, required=False)
    exclusions = ExclusionSerializer(many=True, required=False)
    probabilities = serializers.ListField(
        child=serializers.FloatField(),
        allow_null=True,
        required=False,
        help_text="The newest model's, by class index.",
    )
    model_version = serializers.IntegerField(allow_null=True, required=False)
    history = serializers.ListField(child=serializers.DictField(), required=False)
