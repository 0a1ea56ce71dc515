"""A face's history: every kind of event, named for people, oldest first."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace

from annotator.face_browser import _history

T0 = datetime(2024, 5, 1, 12, 0)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_the_history_names_every_event_in_time_order():
    ann, rev, owner = (SimpleNamespace(username=name) for name in ("ann", "rev", "owner"))
    queued = [
        SimpleNamespace(cycle=SimpleNamespace(created_at=at(0), number=2, strategy="entropy"), position=4)
    ]
    votes = [
        SimpleNamespace(created_at=at(1), kind="label", annotator=ann, candidate_set=[1], retracted_at=at(2)),
        SimpleNamespace(
            created_at=at(3), kind="unsure", annotator=ann, candidate_set=[0, 7], retracted_at=None
        ),
    ]
    reviews = [
        SimpleNamespace(created_at=at(4), reviewer=rev, label_before=None, label_after=1, undone_at=at(5))
    ]
    exclusions = [
        SimpleNamespace(
            created_at=at(6), excluded_by=owner, reason="corrupt", undone_at=at(7), undone_by=None
        ),
        SimpleNamespace(
            created_at=at(8), excluded_by=owner, reason="other", undone_at=at(9), undone_by=owner
        ),
    ]

    events = _history({0: "neutral", 1: "happy"}, queued, votes, reviews, exclusions)

    assert [(e["at"], e["event"], e["who"], e["detail"]) for e in events] == [
        (at(0), "queued", "", "cycle 2, position 5 (entropy)"),
        (at(1), "label", "ann", "happy"),
        (at(2), "vote undone", "ann", ""),
        (at(3), "unsure", "ann", "neutral or 7"),
        (at(4), "reviewed", "rev", "none -> happy"),
        (at(5), "review undone", "rev", ""),
        (at(6), "excluded", "owner", "corrupt"),
        (at(7), "brought back", "", ""),
        (at(8), "excluded", "owner", "other"),
        (at(9), "brought back", "owner", ""),
    ]


def test_events_at_the_same_moment_keep_their_kinds_order():
    ann = SimpleNamespace(username="ann")
    votes = [
        SimpleNamespace(created_at=at(1), kind="label", annotator=ann, candidate_set=[0], retracted_at=at(1))
    ]
    reviews = [SimpleNamespace(created_at=at(1), reviewer=ann, label_before=0, label_after=0, undone_at=None)]

    events = _history({0: "neutral"}, [], votes, reviews, [])

    assert [e["event"] for e in events] == ["label", "vote undone", "reviewed"]
