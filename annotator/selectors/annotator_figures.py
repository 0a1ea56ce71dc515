"""Each annotator's own figures, counted once for the dashboard and the team page: votes, skips,
unsure votes, median seconds per vote, votes in the last hour. No writes.

The dashboard once showed the mean seconds per vote and the team page the median, so one
person had two speeds; the two pages also counted votes apart. A vote's time on screen has a
long tail (a coffee break with a face on screen), which the median ignores. Both pages now
take :func:`annotator_figures`.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.models import User
from django.db.models import Count, Q
from django.utils import timezone

from annotator.models import Project, VoteKind
from annotator.selectors.progress import live_votes


@dataclass(frozen=True)
class AnnotatorFigures:
    """One annotator's live votes: ``votes`` leaves skips out and counts unsure ones."""

    username: str
    votes: int = 0
    skips: int = 0
    unsure: int = 0
    median_seconds: float | None = None

    @property
    def unsure_share(self) -> float | None:
        """The share of votes that named several plausible classes (None without votes)."""
        return round(self.unsure / self.votes, 4) if self.votes else None


def annotator_figures(project: Project, only: User | None = None) -> dict[int, AnnotatorFigures]:
    """Per annotator (user id) with a live vote, or ``only`` that one, their figures: most votes first."""
    votes = live_votes(project) if only is None else live_votes(project).filter(annotator=only)
    seconds = seconds_per_vote(project)
    counts = votes.values("annotator_id", "annotator__username").annotate(
        votes=Count("id", filter=~Q(kind=VoteKind.SKIP)),
        skips=Count("id", filter=Q(kind=VoteKind.SKIP)),
        unsure=Count("id", filter=Q(kind=VoteKind.UNSURE)),
    )
    return {
        row["annotator_id"]: AnnotatorFigures(
            username=row["annotator__username"],
            votes=row["votes"],
            skips=row["skips"],
            unsure=row["unsure"],
            median_seconds=seconds.get(row["annotator_id"]),
        )
        for row in counts.order_by("-votes", "annotator__username")
    }


def median_seconds(milliseconds: list[int]) -> float | None:
    """The median time on screen of a list of votes, in seconds (None without votes)."""
    return round(statistics.median(milliseconds) / 1000, 2) if milliseconds else None


def seconds_per_vote(project: Project) -> dict[int, float | None]:
    """Per annotator (user id), the median seconds a live vote (skips left out) took."""
    times: dict[int, list[int]] = defaultdict(list)
    rows = live_votes(project).exclude(kind=VoteKind.SKIP).values_list("annotator_id", "time_spent_ms")
    for annotator_id, milliseconds in rows:
        times[annotator_id].append(milliseconds)
    return {annotator_id: median_seconds(values) for annotator_id, values in times.items()}


def votes_in_last_hour(project: Project) -> dict[int, int]:
    """Per annotator, the live votes (skips left out) cast in the 60 minutes up to now: a count, not a rate."""
    since = timezone.now() - timedelta(hours=1)
    counts: dict[int, int] = defaultdict(int)
    recent = live_votes(project).exclude(kind=VoteKind.SKIP).filter(created_at__gte=since)
    for annotator_id in recent.values_list("annotator_id", flat=True):
        counts[annotator_id] += 1
    return dict(counts)
