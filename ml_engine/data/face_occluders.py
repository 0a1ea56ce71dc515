"""Hair, sunglasses, masks and hands for synthetic faces: what hides parts of a face.

Hair is identity (style and tone vary per person) and a fringe hides the forehead and the
brows' upper edge; sunglasses hide the eyes (so eye opening, AU5/AU7, is unseen), a mask
hides the mouth and nose (AU9-AU26), and a hand covers a random region. These make some
faces hard in the way real in-the-wild faces are (RAF-DB and FER2013 have all three).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ml_engine.data.face_params import HAIR_STYLES, OCCLUSIONS

if TYPE_CHECKING:
    from ml_engine.data.face_drawing import FaceCanvas

_ARC = np.linspace(0.0, math.pi, 15)


def draw_hair_back(canvas: FaceCanvas, row: dict[str, float]) -> None:
    """Hair behind the head: a cap for short styles, a long fall to the shoulders for long ones."""
    style = HAIR_STYLES[int(row["hair_style"])]
    width, height, tone = row["face_width"], row["face_height"], row["hair_tone"]
    if style == "long":
        canvas.ellipse(0.0, 0.0, width + 0.2, height + 0.12, tone)
        canvas.polygon(
            np.array([-width - 0.2, width + 0.2, width + 0.25, -width - 0.25]),
            np.array([0.0, 0.0, 1.2, 1.2]),
            tone,
        )
    elif style != "bald":
        canvas.ellipse(0.0, -0.08, width + 0.07, height * 0.98, tone)


def draw_hair_front(canvas: FaceCanvas, row: dict[str, float]) -> None:
    """Hair over the forehead down to a hairline; a fringe comes down close to the brows."""
    style = HAIR_STYLES[int(row["hair_style"])]
    if style == "bald":
        return
    width, height = row["face_width"], row["face_height"]
    if style == "fringe":
        hairline = row["eye_y"] - row["brow_gap"] - 0.1
    else:
        hairline = -height * (0.55 + 0.1 * (row["hair_tone"] % 1.0))
    u = -np.cos(_ARC) * (width + 0.02)
    v = -np.sin(_ARC) * (height + 0.02)
    keep = v <= hairline
    edge_u = np.linspace(width, -width, 9)
    edge_v = hairline + 0.025 * np.cos(edge_u * 25.0) + 0.04 * (edge_u / width) ** 2
    canvas.polygon(np.concatenate([u[keep], edge_u]), np.concatenate([v[keep], edge_v]), row["hair_tone"])


def draw_occlusion(canvas: FaceCanvas, row: dict[str, float]) -> None:
    """Draw the face's occluder, if any (``row["occlusion"]`` indexes :data:`OCCLUSIONS`)."""
    kind = OCCLUSIONS[int(row["occlusion"])]
    if kind == "sunglasses":
        _sunglasses(canvas, row)
    elif kind == "mask":
        _mask(canvas, row)
    elif kind == "hand":
        _hand(canvas, row)


def _sunglasses(canvas: FaceCanvas, row: dict[str, float]) -> None:
    w, cv, spacing = row["eye_size"], row["eye_y"], row["eye_spacing"]
    tone = min(row["occlusion_tone"], 60.0)
    for side in (-1.0, 1.0):
        canvas.ellipse(side * spacing, cv + 0.01, w * 1.75, w * 1.3, tone)
        canvas.line(
            np.array([side * (spacing + w * 1.7), side * row["face_width"]]),
            np.array([cv, cv - 0.02]),
            tone,
            0.02,
        )
    canvas.line(
        np.array([-spacing + w * 1.6, 0.0, spacing - w * 1.6]),
        np.array([cv - 0.02, cv - 0.04, cv - 0.02]),
        tone,
        0.025,
    )


def _mask(canvas: FaceCanvas, row: dict[str, float]) -> None:
    top = row["eye_y"] + row["nose_length"] - 0.08
    width, height = row["face_width"], row["face_height"]
    arc = np.linspace(0.0, math.pi, 13)
    u = np.concatenate([[-width * 0.98, 0.0, width * 0.98], width * 0.95 * np.cos(arc)])
    v = np.concatenate([[top + 0.05, top, top + 0.05], top + 0.05 + (height - top) * 0.98 * np.sin(arc)])
    tone = max(row["occlusion_tone"], 120.0)
    canvas.polygon(u, v, tone)
    for side in (-1.0, 1.0):
        canvas.line(
            np.array([side * width * 0.95, side * width]),
            np.array([top + 0.06, row["eye_y"] + 0.1]),
            tone - 40,
            0.015,
        )


def _hand(canvas: FaceCanvas, row: dict[str, float]) -> None:
    cu, cv = row["occlusion_x"], row["occlusion_y"]
    tone = row["skin"] + (row["occlusion_tone"] - 128.0) * 0.15
    canvas.ellipse(cu, cv + 0.12, 0.24, 0.2, tone)
    for finger in range(4):
        fu = cu - 0.17 + finger * 0.11
        length = 0.3 + 0.05 * (finger in (1, 2))
        canvas.polygon(
            np.array([fu - 0.045, fu + 0.045, fu + 0.045, fu - 0.045]),
            np.array([cv + 0.05, cv + 0.05, cv - length, cv - length]),
            tone - 8 * (finger % 2),
        )
        canvas.line(
            np.array([fu + 0.05, fu + 0.05]), np.array([cv + 0.0, cv - length + 0.05]), tone - 35, 0.01
        )
