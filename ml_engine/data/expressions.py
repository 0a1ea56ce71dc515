"""Facial expressions as facial action units (FACS), for the synthetic face generator.

Each class is a prototype vector of action-unit (AU) activations in [0, 1], following the
EMFACS prototypes (Ekman & Friesen; Ekman, Friesen & Hager, *FACS manual*, 2002):
happiness AU6+12, sadness AU1+4+15, surprise AU1+2+5+26, fear AU1+2+4+5+20+26,
disgust AU9+10+15, anger AU4+5+7+23, contempt unilateral AU14. A face's AU vector is

    a = intensity * ((1 - w) * P[true] + w * P[blend]) + idiosyncratic noise,

so low intensity drifts toward neutral and a blend weight near 0.5 is genuinely ambiguous.
The class order matches FERPlus (neutral, happiness, surprise, sadness, anger, disgust, fear,
contempt) so models and vote tables line up with the real data set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ACTION_UNITS = (
    "brow_raise",  # AU1+2: whole brow up
    "brow_lower",  # AU4: brows down and together
    "brow_inner_up",  # AU1 alone: inner ends up, oblique brows
    "upper_lid_raise",  # AU5: eyes wide open
    "lid_tighten",  # AU6/7: cheeks up, eyes narrowed
    "lip_corner_pull",  # AU12: corners up
    "lip_corner_depress",  # AU15: corners down
    "jaw_drop",  # AU25/26: mouth open
    "nose_wrinkle",  # AU9/10: nose wrinkled, upper lip raised
    "lip_press",  # AU23/24: lips pressed thin
    "lip_stretch",  # AU20: lips stretched sideways
    "unilateral_pull",  # AU14 on one side: contempt's smirk
)
AU = {name: index for index, name in enumerate(ACTION_UNITS)}

SEVEN_CLASSES = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear")
EIGHT_CLASSES = (*SEVEN_CLASSES, "contempt")

_PROTOTYPES = {
    "neutral": {},
    "happiness": {"lip_corner_pull": 1.0, "lid_tighten": 0.6, "jaw_drop": 0.3},
    "surprise": {"brow_raise": 1.0, "upper_lid_raise": 1.0, "jaw_drop": 1.0},
    "sadness": {"brow_inner_up": 1.0, "brow_lower": 0.35, "lip_corner_depress": 1.0, "lid_tighten": 0.3},
    "anger": {"brow_lower": 1.0, "upper_lid_raise": 0.4, "lid_tighten": 0.5, "lip_press": 1.0},
    "disgust": {"nose_wrinkle": 1.0, "lip_corner_depress": 0.5, "brow_lower": 0.5, "lid_tighten": 0.5},
    "fear": {
        "brow_raise": 0.6,
        "brow_inner_up": 0.7,
        "brow_lower": 0.4,
        "upper_lid_raise": 1.0,
        "lip_stretch": 1.0,
        "jaw_drop": 0.45,
    },
    "contempt": {"unilateral_pull": 1.0, "lid_tighten": 0.2},
}

RAF_PROPORTIONS = {
    "neutral": 0.20,
    "happiness": 0.39,
    "surprise": 0.10,
    "sadness": 0.16,
    "anger": 0.058,
    "disgust": 0.058,
    "fear": 0.023,
    "contempt": 0.03,
}
"""RAF-DB basic's class shares (test split), contempt as in FERPlus's small share."""

CONFUSABLE = {
    "fear": "surprise",
    "surprise": "fear",
    "disgust": "anger",
    "anger": "disgust",
    "sadness": "neutral",
    "neutral": "sadness",
    "happiness": "surprise",
    "contempt": "happiness",
}
"""Each class's most similar neighbour, for blends and for the simulated annotators."""


def prototypes(class_names: tuple[str, ...]) -> np.ndarray:
    """The ``(C, len(ACTION_UNITS))`` prototype matrix for ``class_names``."""
    matrix = np.zeros((len(class_names), len(ACTION_UNITS)))
    for row, name in enumerate(class_names):
        for unit, value in _PROTOTYPES[name].items():
            matrix[row, AU[unit]] = value
    return matrix


def class_proportions(class_names: tuple[str, ...], imbalance: str) -> np.ndarray:
    """Class shares: ``"raf"`` (RAF-DB-like, renormalised) or ``"uniform"``."""
    if imbalance == "uniform":
        return np.full(len(class_names), 1.0 / len(class_names))
    if imbalance != "raf":
        raise ValueError(f"imbalance must be 'raf' or 'uniform', got {imbalance!r}")
    shares = np.array([RAF_PROPORTIONS[name] for name in class_names])
    return shares / shares.sum()


def allocate_classes(rng: np.random.Generator, n: int, proportions: np.ndarray) -> np.ndarray:
    """Labels with counts as close to ``n * proportions`` as integers allow (largest remainder), shuffled."""
    exact = n * proportions
    counts = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: n - counts.sum()]] += 1
    return rng.permutation(np.repeat(np.arange(len(proportions)), counts))


@dataclass(frozen=True)
class Expressions:
    """Per-face expression draw: the true class, its intensity, an optional blend, the AUs."""

    labels: np.ndarray
    intensity: np.ndarray
    blend_class: np.ndarray
    blend_weight: np.ndarray
    action_units: np.ndarray


def sample_expressions(
    rng: np.random.Generator,
    n: int,
    class_names: tuple[str, ...],
    proportions: np.ndarray,
    *,
    blend_probability: float = 0.35,
    min_intensity: float = 0.3,
) -> Expressions:
    """Draw ``n`` expressions: class by proportion, intensity, blend partner and weight, AU vector.

    Intensity is ``min_intensity + (1 - min_intensity) * Beta(2, 1.4)`` (most faces clearly
    expressive, a tail of subtle ones). A blended face mixes in its confusable neighbour
    (:data:`CONFUSABLE`) two times in three, another random class otherwise, with weight
    U(0.1, 0.45): the true class always dominates, but near 0.45 only barely.
    """
    labels = allocate_classes(rng, n, proportions)
    intensity = min_intensity + (1.0 - min_intensity) * rng.beta(2.0, 1.4, n)
    blended = rng.random(n) < blend_probability
    neighbour = np.array([class_names.index(CONFUSABLE[name]) for name in class_names])[labels]
    other = (labels + rng.integers(1, len(class_names), n)) % len(class_names)
    partner = np.where(rng.random(n) < 2 / 3, neighbour, other)
    blend_class = np.where(blended, partner, -1)
    blend_weight = np.where(blended, rng.uniform(0.1, 0.45, n), 0.0)
    table = prototypes(class_names)
    mix = (1 - blend_weight)[:, None] * table[labels] + blend_weight[:, None] * table[
        np.maximum(blend_class, 0)
    ]
    idiosyncratic = np.abs(rng.normal(0.0, 0.07, (n, len(ACTION_UNITS))))
    action_units = np.clip(intensity[:, None] * mix + idiosyncratic, 0.0, 1.0)
    return Expressions(labels, intensity, blend_class, blend_weight, action_units)
