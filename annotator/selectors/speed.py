"""How fast each annotator labels: the one figure the dashboard and the team page both show. No writes.

The dashboard once showed the mean seconds per vote and the team page the median, so one
person had two speeds. A vote's time on screen has a long tail (a coffee break with a face on
screen), which the median ignores; both pages now take :func:`seconds_per_vote`.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import timedelta

from django.utils import timezone

from annotator.models import Project, VoteKind
from annotator.selectors.progress import live_votes


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
