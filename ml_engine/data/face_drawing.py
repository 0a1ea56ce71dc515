"""Drawing one synthetic face from its parameters and action units, with PIL, anti-aliased.

The face is drawn as polygons and lines in face units (centre (0, 0), ``v`` down), mapped
to a canvas ``scale`` times the output size by one pose transform (a projective squeeze
``u' = (u + yaw) / (1 + yaw * u)`` for small yaw, then roll, scale and shift), and reduced
to the output size by box averaging, which is what anti-aliases the edges. Lighting,
blur and noise are applied at the output size. Occluders are drawn in face units too, so
they follow the pose. Each action unit moves the features the way FACS describes it.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ml_engine.data.expressions import AU
from ml_engine.data.face_occluders import draw_hair_back, draw_hair_front, draw_occlusion

FRAME_ZOOM = 1.4
"""Half the image side spans ``1 / FRAME_ZOOM`` face units: brows to chin fill the frame, as in
FER2013's and RAF-DB's aligned crops, rather than the whole head with hair and background."""
FRAME_CENTRE_V = 0.22
"""The face-unit height at the image centre: between the eyes (v < 0) and the mouth (v ~ 0.5)."""

_T = np.linspace(-1.0, 1.0, 11)
_F = 1.0 - _T**2
_CIRCLE = np.linspace(0.0, 2 * math.pi, 28, endpoint=False)


class FaceCanvas:
    """A canvas plus the pose mapping from face units to canvas pixels."""

    def __init__(self, row: dict[str, float], size: int, scale: int) -> None:
        self.side = size * scale
        self.image = Image.new("L", (self.side, self.side), int(row["background"]))
        self.draw = ImageDraw.Draw(self.image)
        angle = math.radians(row["roll"])
        self.cos, self.sin, self.yaw = math.cos(angle), math.sin(angle), row["yaw"]
        self.half = self.side / 2 * FRAME_ZOOM * row["scale"]
        self.cx = self.side / 2 * (1 + row["shift_x"])
        self.cy = self.side / 2 * (1 + row["shift_y"]) - FRAME_CENTRE_V * self.half

    def points(self, u: np.ndarray, v: np.ndarray) -> list[tuple[float, float]]:
        """Canvas coordinates of face-unit points (``u`` squeezed by yaw, then rotated)."""
        u = (u + self.yaw) / (1.0 + self.yaw * u)
        x = self.cx + self.half * (u * self.cos - v * self.sin)
        y = self.cy + self.half * (u * self.sin + v * self.cos)
        return list(zip(x.tolist(), y.tolist(), strict=True))

    def width(self, units: float) -> int:
        """A line width in canvas pixels for a thickness in face units (at least one pixel)."""
        return max(1, round(units * self.half))

    def polygon(self, u: np.ndarray, v: np.ndarray, tone: float) -> None:
        self.draw.polygon(self.points(u, v), fill=_tone(tone))

    def line(self, u: np.ndarray, v: np.ndarray, tone: float, units: float) -> None:
        self.draw.line(self.points(u, v), fill=_tone(tone), width=self.width(units), joint="curve")

    def ellipse(self, cu: float, cv: float, ru: float, rv: float, tone: float) -> None:
        self.polygon(cu + ru * np.cos(_CIRCLE), cv + rv * np.sin(_CIRCLE), tone)


def _tone(value: float) -> int:
    return int(min(max(value, 0.0), 255.0))


def render_face(
    row: dict[str, float], action_units: np.ndarray, size: int, scale: int, rng: np.random.Generator
) -> np.ndarray:
    """Draw one face and return it as a ``(size, size)`` ``uint8`` array."""
    canvas = FaceCanvas(row, size, scale)
    a = {name: float(action_units[index]) for name, index in AU.items()}
    draw_hair_back(canvas, row)
    _draw_head(canvas, row, a)
    draw_hair_front(canvas, row)
    for side in (-1.0, 1.0):
        _draw_eye(canvas, row, a, side)
        _draw_brow(canvas, row, a, side)
    _draw_nose(canvas, row, a)
    _draw_mouth(canvas, row, a)
    draw_occlusion(canvas, row)
    small = canvas.image.reduce(scale)
    if row["blur"] > 0.05:
        small = small.filter(ImageFilter.GaussianBlur(row["blur"]))
    return _light_and_noise(np.asarray(small, dtype=np.float32), row, rng)


def _light_and_noise(pixels: np.ndarray, row: dict[str, float], rng: np.random.Generator) -> np.ndarray:
    size = pixels.shape[0]
    axis = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    gradient = math.cos(row["light_angle"]) * axis[None, :] + math.sin(row["light_angle"]) * axis[:, None]
    pixels = (pixels - 128.0) * row["contrast"] + 128.0
    pixels = pixels * (1.0 + row["light_strength"] * gradient)
    pixels += rng.normal(0.0, row["noise"], pixels.shape).astype(np.float32)
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


def face_outline(row: dict[str, float], jaw_drop: float) -> tuple[np.ndarray, np.ndarray]:
    """The head outline: an ellipse whose lower half narrows to the chin and lengthens as the jaw drops."""
    t = _CIRCLE
    u = row["face_width"] * np.sin(t)
    v = -row["face_height"] * np.cos(t)
    lower = np.clip(v / row["face_height"], 0.0, 1.0)
    u = u * (1.0 - 0.3 * row["chin"] * lower**2)
    v = v * (1.0 + 0.1 * jaw_drop * lower)
    return u, v


def _draw_head(canvas: FaceCanvas, row: dict[str, float], a: dict[str, float]) -> None:
    skin, width = row["skin"], row["face_width"]
    canvas.polygon(np.array([-0.4, 0.4, 0.4, -0.4]) * width, np.array([0.5, 0.5, 1.3, 1.3]), skin - 25)
    canvas.polygon(
        np.array([-1.6, 1.6, 1.6, -1.6]), np.array([1.05, 1.05, 1.7, 1.7]), (row["hair_tone"] + 110) % 230
    )
    for side in (-1.0, 1.0):
        canvas.ellipse(side * width * 0.97, row["eye_y"] + 0.1, 0.07, 0.14, skin - 15)
    canvas.polygon(*face_outline(row, a["jaw_drop"]), skin)


def _draw_eye(canvas: FaceCanvas, row: dict[str, float], a: dict[str, float], side: float) -> None:
    """An almond eye; AU5 opens the upper lid, AU6/7 narrows it and lifts the lower lid."""
    skin, w = row["skin"], row["eye_size"]
    cu, cv = side * row["eye_spacing"], row["eye_y"]
    opening = w * 0.5 * max(0.12, 1.0 + 1.3 * a["upper_lid_raise"] - 0.75 * a["lid_tighten"])
    lower = w * 0.35 * (1.0 - 0.6 * a["lid_tighten"])
    u = cu + w * _T
    upper_v, lower_v = cv - opening * _F, cv + lower * _F
    canvas.polygon(np.concatenate([u, u[::-1]]), np.concatenate([upper_v, lower_v[::-1]]), skin + 45)
    iris_u = cu + 0.42 * w * np.cos(_CIRCLE)
    offset = np.clip((iris_u - cu) / w, -1, 1)
    iris_v = np.clip(
        cv + 0.42 * w * np.sin(_CIRCLE), cv - opening * (1 - offset**2), cv + lower * (1 - offset**2)
    )
    canvas.polygon(iris_u, iris_v, 45)
    canvas.line(u, upper_v, skin - 110, 0.018)
    canvas.line(u, upper_v - 0.035 - 0.02 * a["upper_lid_raise"], skin - 35, 0.01)
    if a["lid_tighten"] > 0.3:
        tone = skin - 70 * a["lid_tighten"]
        for dv in (-0.02, 0.02):
            canvas.line(
                np.array([cu + side * w * 1.1, cu + side * w * 1.5]), np.array([cv, cv + 2 * dv]), tone, 0.01
            )


def _draw_brow(canvas: FaceCanvas, row: dict[str, float], a: dict[str, float], side: float) -> None:
    """A brow through inner, middle and outer points; AU1+2 lift it, AU1 lifts the inner end, AU4 lowers and knits."""
    w, base = row["eye_size"], row["eye_y"] - row["brow_gap"]
    up, inner_up, lower = a["brow_raise"], a["brow_inner_up"], a["brow_lower"]
    inner_u = row["eye_spacing"] - w * 1.0 - 0.035 * lower
    u = side * np.array([inner_u, row["eye_spacing"] + 0.2 * w, row["eye_spacing"] + 1.45 * w])
    v = base + np.array([0.0, -0.028 * (1 - 0.5 * lower), 0.012])
    v = (
        v
        - 0.14 * up
        + 0.05 * lower
        + np.array([0.05 * lower - 0.12 * inner_up, -0.035 * inner_up, 0.02 * inner_up])
    )
    brow_tone = min(row["hair_tone"], row["skin"] - 70)
    canvas.line(u, v, brow_tone, row["brow_thickness"])
    if lower > 0.25 and side > 0:
        for du in (-0.035, 0.035):
            canvas.line(
                np.array([du, du * 0.8]), np.array([v[0] - 0.02, v[0] + 0.07]), row["skin"] - 60 * lower, 0.01
            )
    if up > 0.25 and side > 0:
        for dv in (0.07, 0.12):
            arc = np.linspace(-0.3, 0.3, 7)
            canvas.line(arc, v[1] - dv + 0.1 * arc**2, row["skin"] - 45 * up, 0.01)


def _draw_nose(canvas: FaceCanvas, row: dict[str, float], a: dict[str, float]) -> None:
    """Nostrils and wings; AU9 lifts and widens them and adds wrinkles on the bridge."""
    skin, wrinkle = row["skin"], a["nose_wrinkle"]
    tip = row["eye_y"] + row["nose_length"] - 0.025 * wrinkle
    canvas.line(
        np.array([-0.06, 0.0, 0.06]), np.array([tip - 0.01, tip + 0.01, tip - 0.01]), skin - 40, 0.012
    )
    for side in (-1.0, 1.0):
        canvas.ellipse(side * 0.055 * (1 + 0.35 * wrinkle), tip - 0.005, 0.03, 0.016, skin - 90)
        canvas.line(
            side * np.array([0.07, 0.095, 0.08]), tip + np.array([-0.05, -0.015, 0.01]), skin - 45, 0.012
        )
        if wrinkle > 0.25:
            rows = row["eye_y"] + np.array([0.05, 0.085])
            for dv in rows:
                canvas.line(
                    side * np.array([0.03, 0.09]), np.array([dv, dv + 0.03]), skin - 70 * wrinkle, 0.012
                )
    fold = max(a["lip_corner_pull"], a["nose_wrinkle"], 0.3 * a["lip_stretch"])
    if fold > 0.15:
        corner = row["mouth_width"] * (1 + 0.15 * a["lip_corner_pull"]) + 0.02
        for side in (-1.0, 1.0):
            canvas.line(
                side * np.array([0.1, 0.5 * (0.1 + corner) + 0.01, corner]),
                np.array([tip, 0.5 * (tip + row["mouth_y"]), row["mouth_y"] - 0.02]),
                skin - 50 * fold,
                0.012,
            )


def _draw_mouth(canvas: FaceCanvas, row: dict[str, float], a: dict[str, float]) -> None:
    """Lips between two corners; AU12 lifts the corners, AU15 lowers them, AU26 opens the jaw,
    AU23/24 thins and narrows the lips, AU20 stretches them, AU14 lifts one corner."""
    skin, pull, press = row["skin"], a["lip_corner_pull"], a["lip_press"]
    mouth_y = max(row["mouth_y"], row["eye_y"] + row["nose_length"] + 0.1)
    half = row["mouth_width"] * (1 + 0.45 * a["lip_stretch"] + 0.2 * pull - 0.3 * press)
    corner_v = mouth_y - 0.15 * pull + 0.12 * a["lip_corner_depress"] + 0.02 * a["lip_stretch"]
    left_v, right_v = corner_v, corner_v - 0.12 * a["unilateral_pull"]
    right_half = half + 0.03 * a["unilateral_pull"]
    u = np.where(_T < 0, _T * half, _T * right_half)
    mid = left_v + (right_v - left_v) * (_T + 1) / 2 + (mouth_y - corner_v) * _F
    gap = 0.26 * a["jaw_drop"] + 0.04 * a["nose_wrinkle"]
    thin = 1.0 - 0.75 * press
    upper_in, lower_in = mid - 0.3 * gap * _F, mid + 0.7 * gap * _F
    upper_out = upper_in - row["lip_thickness"] * thin * np.sqrt(_F) - 0.02 * a["nose_wrinkle"] * _F
    lower_out = lower_in + 1.2 * row["lip_thickness"] * thin * np.sqrt(_F)
    canvas.polygon(np.concatenate([u, u[::-1]]), np.concatenate([upper_out, lower_out[::-1]]), skin - 35)
    if gap > 0.015:
        canvas.polygon(np.concatenate([u, u[::-1]]), np.concatenate([upper_in, lower_in[::-1]]), 25)
        teeth = np.minimum(upper_in + 0.45 * gap * _F, lower_in)
        canvas.polygon(np.concatenate([u, u[::-1]]) * 0.8, np.concatenate([upper_in, teeth[::-1]]), skin + 50)
    canvas.line(u, mid, skin - 95 - 30 * press, 0.012)
