"""Identity, pose and imaging parameters of synthetic faces, drawn as one column per parameter.

Everything that makes two faces with the same expression look different is sampled here,
vectorised over all faces so generation stays fast and deterministic by seed. Geometry is
in *face units*: the face is centred at (0, 0) and spans about [-1, 1] (``v`` points down).
The ranges are the generator's difficulty knobs; :class:`Difficulty` scales the nuisance
factors (pose, lighting, blur, noise, occlusion) together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OCCLUSIONS = ("none", "sunglasses", "mask", "hand")
HAIR_STYLES = ("bald", "short", "long", "fringe")


@dataclass(frozen=True)
class Difficulty:
    """How strongly nuisance factors vary; 1.0 is the calibrated default (see bench/synthetic_difficulty.py).

    Attributes:
        pose: scales roll, yaw, translation and scale jitter.
        imaging: scales lighting gradient, blur and noise.
        occlusion_probability: chance that a face wears sunglasses, a mask, or is covered by a hand.
    """

    pose: float = 1.0
    imaging: float = 1.0
    occlusion_probability: float = 0.1


def sample_face_parameters(rng: np.random.Generator, n: int, difficulty: Difficulty) -> dict[str, np.ndarray]:
    """One array of length ``n`` per parameter (the manifest's identity and imaging columns)."""
    p: dict[str, np.ndarray] = {}
    u = rng.uniform
    # identity: head shape, skin tone, feature layout, hair
    p["face_width"] = u(0.60, 0.78, n)
    p["face_height"] = u(0.80, 0.94, n)
    p["chin"] = u(0.0, 1.0, n)
    p["skin"] = u(80, 200, n)
    p["eye_spacing"] = u(0.25, 0.35, n)
    p["eye_y"] = u(-0.14, 0.0, n)
    p["eye_size"] = u(0.1, 0.135, n)
    p["brow_gap"] = u(0.10, 0.15, n)
    p["brow_thickness"] = u(0.035, 0.06, n)
    p["nose_length"] = u(0.18, 0.27, n)
    p["mouth_y"] = u(0.42, 0.54, n)
    p["mouth_width"] = u(0.21, 0.29, n)
    p["lip_thickness"] = u(0.03, 0.055, n)
    p["hair_style"] = rng.integers(0, len(HAIR_STYLES), n)
    p["hair_tone"] = u(10, 230, n)
    p["background"] = u(20, 235, n)
    # pose: in-plane rotation (degrees), yaw (projective squeeze), translation, scale
    p["roll"] = rng.normal(0.0, 6.0 * difficulty.pose, n).clip(-20, 20)
    p["yaw"] = u(-0.3, 0.3, n) * difficulty.pose
    p["shift_x"] = u(-0.07, 0.07, n) * difficulty.pose
    p["shift_y"] = u(-0.07, 0.07, n) * difficulty.pose
    p["scale"] = 1.0 + u(-0.12, 0.06, n) * difficulty.pose
    # imaging: lighting gradient, contrast, blur, sensor noise, occlusion
    p["light_angle"] = u(0.0, 2 * np.pi, n)
    p["light_strength"] = u(0.0, 0.3, n) * difficulty.imaging
    p["contrast"] = u(0.75, 1.15, n)
    p["blur"] = u(0.0, 0.6, n) * difficulty.imaging
    p["noise"] = u(1.0, 5.0, n) * difficulty.imaging
    occluded = rng.random(n) < difficulty.occlusion_probability
    p["occlusion"] = np.where(occluded, rng.integers(1, len(OCCLUSIONS), n), 0)
    p["occlusion_x"] = u(-0.45, 0.45, n)
    p["occlusion_y"] = u(-0.1, 0.5, n)
    p["occlusion_tone"] = u(20, 235, n)
    return p
