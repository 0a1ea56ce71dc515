"""The learning-curve PNG: test accuracy against labels, mean and min-max band per strategy.

Drawn with Pillow (already a dependency) so the simulation needs no plotting library.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ml_engine.atomic_write import atomic_path
from ml_engine.simulation.results import StrategySummary

Font = ImageFont.ImageFont | ImageFont.FreeTypeFont

PALETTE = [
    (31, 119, 180),
    (214, 39, 40),
    (44, 160, 44),
    (255, 127, 14),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
]
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 960, 600, 80, 230, 50, 70


def _ticks(low: float, high: float, count: int = 6) -> np.ndarray:
    """Round tick positions covering ``[low, high]``."""
    raw = (high - low) / max(count - 1, 1) or 1.0
    magnitude = 10 ** np.floor(np.log10(raw))
    step = min((m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw), default=raw)
    return np.arange(np.floor(low / step) * step, high + step / 2, step)


class _Axes:
    """Maps data coordinates to pixels inside the plot area."""

    def __init__(self, x_range: tuple[float, float], y_range: tuple[float, float]) -> None:
        self.x0, self.x1 = x_range
        self.y0, self.y1 = y_range

    def __call__(self, x: float, y: float) -> tuple[float, float]:
        px = LEFT + (x - self.x0) / ((self.x1 - self.x0) or 1) * (WIDTH - LEFT - RIGHT)
        py = HEIGHT - BOTTOM - (y - self.y0) / ((self.y1 - self.y0) or 1) * (HEIGHT - TOP - BOTTOM)
        return px, py


def _frame(draw: ImageDraw.ImageDraw, axes: _Axes, font: Font, title: str) -> None:
    for x in _ticks(axes.x0, axes.x1):
        if axes.x0 <= x <= axes.x1:
            px, _ = axes(x, axes.y0)
            draw.line([(px, TOP), (px, HEIGHT - BOTTOM)], fill=(235, 235, 235))
            draw.text((px, HEIGHT - BOTTOM + 8), f"{x:g}", fill="black", font=font, anchor="mt")
    for y in _ticks(axes.y0, axes.y1):
        if axes.y0 <= y <= axes.y1:
            _, py = axes(axes.x0, y)
            draw.line([(LEFT, py), (WIDTH - RIGHT, py)], fill=(235, 235, 235))
            draw.text((LEFT - 8, py), f"{y:g}", fill="black", font=font, anchor="rm")
    draw.rectangle([LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM], outline="black")
    draw.text(
        ((LEFT + WIDTH - RIGHT) / 2, HEIGHT - 25), "labeled faces", fill="black", font=font, anchor="mm"
    )
    draw.text(((LEFT + WIDTH - RIGHT) / 2, 22), title, fill="black", font=font, anchor="mm")


def draw_learning_curve(
    summaries: list[StrategySummary], titles: dict[str, str], path: Path, title: str = "Learning curves"
) -> None:
    """Write the PNG: one line (mean over seeds) and one translucent min-max band per strategy."""
    font = ImageFont.load_default(size=14)
    accuracy = np.concatenate([100 * s.accuracy.ravel() for s in summaries]) if summaries else np.zeros(1)
    labels = np.concatenate([s.labels for s in summaries]) if summaries else np.zeros(1)
    axes = _Axes(
        (float(labels.min()), float(labels.max())), (float(accuracy.min()) - 1, float(accuracy.max()) + 1)
    )
    image = Image.new("RGBA", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    _frame(draw, axes, font, title)
    for k, summary in enumerate(summaries):
        color = PALETTE[k % len(PALETTE)]
        low, high, mean = (100 * f(summary.accuracy, axis=0) for f in (np.min, np.max, np.mean))
        band = Image.new("RGBA", image.size, (0, 0, 0, 0))
        upper = [axes(x, y) for x, y in zip(summary.labels, high, strict=True)]
        lower = [axes(x, y) for x, y in zip(summary.labels[::-1], low[::-1], strict=True)]
        ImageDraw.Draw(band).polygon(upper + lower, fill=(*color, 50))
        image.alpha_composite(band)
        draw = ImageDraw.Draw(image)
        points = [axes(x, y) for x, y in zip(summary.labels, mean, strict=True)]
        draw.line(points, fill=color, width=3)
        for px, py in points:
            draw.ellipse([px - 3, py - 3, px + 3, py + 3], fill=color)
        legend_y = TOP + 10 + 22 * k
        draw.line([(WIDTH - RIGHT + 15, legend_y), (WIDTH - RIGHT + 45, legend_y)], fill=color, width=3)
        draw.text(
            (WIDTH - RIGHT + 52, legend_y),
            titles.get(summary.name, summary.name),
            fill="black",
            font=font,
            anchor="lm",
        )
    _vertical_label(image, "test accuracy (%)", font)
    image_format = Image.registered_extensions().get(Path(path).suffix.lower(), "PNG")
    with atomic_path(path) as temporary:
        image.convert("RGB").save(temporary, format=image_format)


def _vertical_label(image: Image.Image, text: str, font: Font) -> None:
    """The y-axis title, rotated to read bottom-up beside the axis."""
    left, top, right, bottom = (round(edge) for edge in font.getbbox(text))
    label = Image.new("RGBA", (right - left + 4, bottom - top + 4), (0, 0, 0, 0))
    ImageDraw.Draw(label).text((2 - left, 2 - top), text, fill="black", font=font)
    label = label.rotate(90, expand=True)
    image.alpha_composite(label, (12, (TOP + HEIGHT - BOTTOM - label.height) // 2))
