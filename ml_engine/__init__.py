"""FaceLoop's machine-learning engine: a pure PyTorch library.

It takes file paths, arrays and dataclasses, an explicit device, a progress callback and a
cancel flag, and returns dataclasses and files. It imports nothing from Django, DRF, Celery
or ``annotator`` (import-linter enforces this), so it runs alone from the command line:
``python -m ml_engine ...``.
"""
