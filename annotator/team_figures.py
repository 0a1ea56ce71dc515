"""Read side of the team page: what each annotator did, how fast, and how well they agree.

Votes, skips, the unsure share and the speed are the dashboard's own figures
(:func:`~annotator.selectors.annotator_figures.annotator_figures`). Agreement is the share of
the *other* single-class votes on the same faces that named the annotator's class (faces with
one vote tell nothing and are left out). Reliability is the Dawid-Skene estimate the newest
training fitted (``ModelVersion.crowd``).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from annotator.models import Membership, Project, Review, VoteKind
from annotator.selectors.annotator_figures import AnnotatorFigures, annotator_figures
from annotator.selectors.model_versions import latest_model
from annotator.selectors.progress import live_votes

ACTIVITY_DAYS = 7


@dataclass
class _Tally:
    """One annotator's agreement with the others and votes per day."""

    agreement: list[float] = field(default_factory=list)
    days: Counter = field(default_factory=Counter)

    def figures(self, days: list[date]) -> dict[str, object]:
        return {
            "agreement": round(statistics.fmean(self.agreement), 4) if self.agreement else None,
            "agreement_faces": len(self.agreement),
            "activity": [{"day": day.isoformat(), "votes": self.days[day]} for day in days],
        }


def tallies(project: Project) -> dict[int, _Tally]:
    """Each voter's tally; agreement compares a single-class vote with the others on its face."""
    rows = list(
        live_votes(project)
        .exclude(kind=VoteKind.SKIP)
        .values_list("annotator_id", "face_id", "kind", "class_index", "created_at")
    )
    per_face: dict[int, Counter] = defaultdict(Counter)
    for _, face_id, kind, class_index, _ in rows:
        if kind == VoteKind.LABEL:
            per_face[face_id][class_index] += 1
    result: dict[int, _Tally] = defaultdict(_Tally)
    for annotator_id, face_id, kind, class_index, created in rows:
        tally = result[annotator_id]
        tally.days[timezone.localtime(created).date()] += 1
        if kind == VoteKind.LABEL and (others := sum(per_face[face_id].values()) - 1) > 0:
            tally.agreement.append((per_face[face_id][class_index] - 1) / others)
    return result


def team_figures(project: Project) -> list[dict[str, object]]:
    """One row per member or past voter (removed members' votes still count): role, quota, figures."""
    counted = annotator_figures(project)  # the dashboard's figures too: one count and speed per person
    tallied = tallies(project)
    reliability = _reliability(project)
    reviews = Counter(
        Review.objects.filter(project=project, undone_at__isnull=True).values_list("reviewer_id", flat=True)
    )
    members = {m.user_id: m for m in Membership.objects.filter(project=project)}
    user_ids = set(members) | set(counted)
    names = dict(get_user_model().objects.filter(pk__in=user_ids).values_list("pk", "username"))
    today = timezone.localdate()
    days = [today - timedelta(days=offset) for offset in range(ACTIVITY_DAYS - 1, -1, -1)]
    ordered = sorted(user_ids, key=lambda pk: (-counted[pk].votes if pk in counted else 0, names.get(pk, "")))
    return [
        {
            "user_id": user_id,
            "username": names.get(user_id, f"user {user_id}"),
            "membership_id": members[user_id].pk if user_id in members else None,
            "role": members[user_id].role if user_id in members else None,
            "quota_votes": members[user_id].quota_votes if user_id in members else None,
            **_counts(counted.get(user_id)),
            **tallied.get(user_id, _Tally()).figures(days),
            "reliability": reliability.get(user_id),
            "reviews": reviews.get(user_id, 0),
        }
        for user_id in ordered
    ]


def _counts(figures: AnnotatorFigures | None) -> dict[str, object]:
    if figures is None:
        return {"votes": 0, "skips": 0, "unsure_share": None, "median_seconds": None}
    return {
        "votes": figures.votes,
        "skips": figures.skips,
        "unsure_share": figures.unsure_share,
        "median_seconds": figures.median_seconds,
    }


def _reliability(project: Project) -> dict[int, float]:
    model = latest_model(project)
    rows = (model.crowd or {}).get("annotators", []) if model is not None else []
    return {row["annotator_id"]: row["reliability"] for row in rows}
