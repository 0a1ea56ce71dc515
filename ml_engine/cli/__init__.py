"""Subcommands of ``python -m ml_engine``.

Each name in :data:`COMMANDS` is a module ``ml_engine.cli.<name>`` exposing
``add_parser(subparsers)``, which registers the subcommand and sets ``func`` (taking the
parsed arguments, returning an exit status). To add a command, write the module and append
its name here.
"""

from __future__ import annotations

COMMANDS = [
    "train",
    "evaluate",
    "predict",
    "export",
    "simulate",
    "pretrain",
    "select_auxiliary",
    "distill",
]
