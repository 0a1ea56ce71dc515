"""Serializers of a project: its settings, its classes and its budget."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from annotator.api.class_rules import printable_name, validated_classes
from annotator.models import Project, ProjectClass
from annotator.selectors.budget import budget_status
from annotator.services.project_settings import SETTINGS, measured_default_note
from annotator.services.projects import MAX_CLASSES


def _measured_help() -> dict[str, dict[str, str]]:
    """The schema's description of each setting whose default was measured best: the model's help
    text and the figure behind the default (the form shows the same note)."""
    return {
        setting.name: {
            "help_text": " ".join(
                text
                for text in (
                    str(Project._meta.get_field(setting.name).help_text),
                    measured_default_note(setting),
                )
                if text
            )
        }
        for setting in SETTINGS
        if setting.measured
    }


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
    backbone_weights_report = serializers.DictField(
        read_only=True,
        help_text="The file's name and what was adapted or left out to load it; empty without weights.",
    )

    class Meta:
        model = Project
        fields = [
            "id",
            "owner",
            "my_role",
            "classes",
            *(setting.name for setting in SETTINGS),
            "votes_spent",
            "votes_left",
            "budget",
            "backbone_weights_report",
            "created_at",
        ]
        read_only_fields = ["votes_spent", "backbone_weights_report", "created_at"]
        extra_kwargs = _measured_help()

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
