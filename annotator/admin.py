"""Admin pages: read-mostly views of every model; counters are read-only (services own them)."""

from __future__ import annotations

from django.contrib import admin

from annotator.models import (
    Cycle,
    Face,
    Job,
    Membership,
    ModelVersion,
    Project,
    ProjectClass,
    QueueEntry,
    Vote,
)


class ProjectClassInline(admin.TabularInline):
    model = ProjectClass
    extra = 0


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    readonly_fields = ["votes_cast"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "owner",
        "budget_votes",
        "votes_spent",
        "votes_per_face",
        "strategy",
        "created_at",
    ]
    readonly_fields = ["votes_spent"]
    inlines = [ProjectClassInline, MembershipInline]


@admin.register(Face)
class FaceAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "split", "source_name", "label_index", "vote_count"]
    list_filter = ["project", "split"]
    readonly_fields = ["sha256", "class_votes", "vote_count", "label_index", "candidate_set"]


@admin.register(Vote)
class VoteAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "face", "annotator", "kind", "class_index", "created_at", "retracted_at"]
    list_filter = ["project", "kind"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # votes change only through the services (budget and counters)


@admin.register(Cycle)
class CycleAdmin(admin.ModelAdmin):
    list_display = ["project", "number", "state", "strategy", "batch_size", "labeling_completed_at"]


@admin.register(QueueEntry)
class QueueEntryAdmin(admin.ModelAdmin):
    list_display = ["cycle", "position", "face", "slots_taken", "votes_received"]


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["project", "version", "cycle", "labels_used", "created_at"]


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "kind", "state", "stage", "progress", "cancel_requested", "created_at"]
    list_filter = ["kind", "state"]
