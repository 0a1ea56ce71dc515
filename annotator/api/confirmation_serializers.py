"""Serializers of pseudo-label offers: the model's confident guesses, confirmed or rejected."""

from __future__ import annotations

from rest_framework import serializers

from annotator.api.fields import RequiredBooleanField, media_url
from annotator.models import PseudoLabelOffer
from annotator.services.time_on_screen import MAX_TIME_SPENT_MS


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
