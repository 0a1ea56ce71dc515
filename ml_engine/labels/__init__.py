"""Turning crowd votes into training targets: majority, distributions, candidate sets, crowd models."""

from __future__ import annotations

from ml_engine.labels.aggregation import (
    Agreement,
    agreement,
    candidate_sets,
    fleiss_kappa,
    item_agreement,
    majority_labels,
    vote_distribution,
)
from ml_engine.labels.dawid_skene import DawidSkeneResult, dawid_skene, triples_from_counts

__all__ = [
    "Agreement",
    "DawidSkeneResult",
    "agreement",
    "candidate_sets",
    "dawid_skene",
    "fleiss_kappa",
    "item_agreement",
    "majority_labels",
    "triples_from_counts",
    "vote_distribution",
]
