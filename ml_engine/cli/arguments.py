"""Parsed command-line options handed on to the engine under the names they already share."""

from __future__ import annotations

import argparse
from typing import Any


def keywords(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    """``{name: args.<name>}`` for each of ``names``: options whose flag says the parameter's name.

    Example:
        >>> keywords(argparse.Namespace(delta=0.1, rule="margin", out="x.csv"), "delta", "rule")
        {'delta': 0.1, 'rule': 'margin'}
    """
    return {name: getattr(args, name) for name in names}
