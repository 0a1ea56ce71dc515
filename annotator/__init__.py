"""FaceLoop's web application: projects, votes, cycles and the workers that run them."""

from __future__ import annotations

from annotator.celery import app as celery_app

__all__ = ["celery_app"]
