"""Read side of the team page: what each annotator did, how fast, and how well they agree.

Agreement is the share of the *other* single-class votes on the same faces that named the
annotator's class (faces with one vote tell nothing and are left out). Reliability is the
Dawid-Skene estimate the newest training fitted (``ModelVersion.crowd``).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from annotator import selectors
from annotator.models import Membership, Project, Review, VoteKind

ACTIVITY_DAYS = 7


def team_figures(project: Project) -> list[dict[str, object]]:
    """One row per member or past voter: role, quota, and the figures of their live votes."""
    rows = list(
        selectors.live_votes(project).values_list(
            "annotator_id", "item_id", "kind", "class_index", "time_spent_ms", "created_at"
        )
    )
    per_face: dict[int, Counter] = defaultdict(Counter)
    for _, item_id, kind, class_index, _, _ in rows:
        if kind == VoteKind.LABEL:
            per_face[item_id][class_index] += 1
    today = timezone.localdate()
    days = [today - timedelta(days=offset) for offset in range(ACTIVITY_DAYS - 1, -1, -1)]
    figures: dict[int, dict] = defaultdict(
        lambda: {"votes": 0, "skips": 0, "unsure": 0, "ms": [], "agree": [], "days": Counter()}
    )
    for annotator_id, item_id, kind, class_index, ms, created in rows:
        entry = figures[annotator_id]
        if kind == VoteKind.SKIP:
            entry["skips"] += 1
            continue
        entry["votes"] += 1
        entry["ms"].append(ms)
        entry["days"][timezone.localtime(created).date()] += 1
        if kind == VoteKind.UNSURE:
            entry["unsure"] += 1
        elif (others := sum(per_face[item_id].values()) - 1) > 0:
            entry["agree"].append((per_face[item_id][class_index] - 1) / others)
    reliability = _reliability(project)
    reviews = Counter(
        Review.objects.filter(project=project, undone_at__isnull=True).values_list("reviewer_id", flat=True)
    )
    members = {m.user_id: m for m in Membership.objects.filter(project=project).select_related("user")}
    user_ids = set(members) | set(figures)
    names = dict(get_user_model().objects.filter(pk__in=user_ids).values_list("pk", "username"))
    result = []
    for user_id in sorted(
        user_ids, key=lambda pk: (-figures[pk]["votes"] if pk in figures else 0, names.get(pk, ""))
    ):
        entry = figures.get(user_id)
        member = members.get(user_id)
        result.append(
            {
                "user_id": user_id,
                "username": names.get(user_id, f"user {user_id}"),
                "membership_id": member.pk if member else None,
                "role": member.role if member else None,
                "quota_votes": member.quota_votes if member else None,
                "votes": entry["votes"] if entry else 0,
                "skips": entry["skips"] if entry else 0,
                "unsure_share": round(entry["unsure"] / entry["votes"], 4)
                if entry and entry["votes"]
                else None,
                "median_seconds": round(statistics.median(entry["ms"]) / 1000, 2)
                if entry and entry["ms"]
                else None,
                "agreement": round(statistics.fmean(entry["agree"]), 4) if entry and entry["agree"] else None,
                "agreement_faces": len(entry["agree"]) if entry else 0,
                "reliability": reliability.get(user_id),
                "reviews": reviews.get(user_id, 0),
                "activity": [
                    {"day": day.isoformat(), "votes": entry["days"][day] if entry else 0} for day in days
                ],
            }
        )
    return result


def _reliability(project: Project) -> dict[int, float]:
    model = selectors.latest_model(project)
    rows = (model.crowd or {}).get("annotators", []) if model is not None else []
    return {row["annotator_id"]: row["reliability"] for row in rows}
