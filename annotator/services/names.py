"""What a name typed by a person may hold: printable text, no control or direction-changing characters.

Names reach places that read characters as commands: a class name is a CSV cell, a JSON Lines
value, a folder inside an ImageFolder zip, and the labeling page's buttons; a project name
is a page title and a model card line. A control character (C0 ``U+0000-001F``, ``DEL`` and
C1 ``U+007F-009F``) breaks the first three, and every label export of a project whose class
name held one failed (``ml_engine.export.label_rows.check_class_names`` refuses them); a
bidirectional override or isolate (``U+202A-202E``, ``U+2066-2069``) shows a name other
than the one stored, the trick of "Trojan Source" (Boucher and Anderson, 2021); a line or
paragraph separator (``U+2028``, ``U+2029``) breaks a line where none is seen. Every such
character is refused here, in one place, with the field and the character named; free text
(a description, a note) may also hold tabs and line breaks. Class names also may not hold
``|``, the separator of candidate sets in label exports.

Rows stored before these checks may still hold such names: :func:`exportable_names` gives
each a clean spelling at export time, so those projects export again.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from annotator.services.errors import InvalidInput

_IN_NAME = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
"""As :data:`_IN_NAME`, but tabs and line breaks (``\\t``, ``\\n``, ``\\r``) are text."""
CLASS_NAME_SEPARATOR = "|"
"""The candidate-set separator of label exports (``ml_engine.export.label_rows``)."""


def name_problem(value: str, *, multiline: bool = False) -> str | None:
    """Why ``value`` may not be a name (or, with ``multiline``, free text), or None when it may.

    The reason names the character by its code point and Unicode name, since most of them
    cannot be seen.
    """
    found = (_IN_TEXT if multiline else _IN_NAME).search(value)
    if found is None:
        return None
    if multiline:
        return (
            f"It holds {describe(found.group())}: text may hold printable characters, tabs and line breaks."
        )
    return (
        f"It holds {describe(found.group())}: a name may hold only printable characters, "
        "no line breaks, tabs or characters that change the text's direction."
    )


def class_name_problem(value: str) -> str | None:
    """:func:`name_problem`, and ``|``, which label exports use between candidate classes."""
    if CLASS_NAME_SEPARATOR in value:
        return "A class name may not hold '|': label exports separate candidate classes with it."
    return name_problem(value)


def check_name(field: str, value: str, *, multiline: bool = False) -> str:
    """``value`` unchanged when it may be a name, for a service's own check.

    Raises:
        InvalidInput: naming ``field`` and the character at fault.
    """
    problem = name_problem(value, multiline=multiline)
    if problem:
        raise InvalidInput(f"{field}: {problem}")
    return value


def describe(character: str) -> str:
    """``U+202E (RIGHT-TO-LEFT OVERRIDE)``: a character by code point and Unicode name."""
    return f"U+{ord(character):04X} ({unicodedata.name(character, 'a control character')})"


def exportable_names(names: Iterable[str]) -> list[str]:
    """``names`` with every refused character taken out, still distinct and never empty.

    For class names stored before they were checked: each run of refused characters becomes
    one space (``"happy\\nface"`` exports as ``"happy face"``), ``|`` becomes ``/``, a name
    left empty becomes ``"class 3"`` and a clash ``"neutral (2)"``.
    """
    cleaned: list[str] = []
    for index, name in enumerate(names):
        clean = " ".join(_IN_NAME.sub(" ", name).replace(CLASS_NAME_SEPARATOR, "/").split())
        clean = clean or f"class {index + 1}"
        candidate, copy = clean, 2
        while candidate.lower() in (taken.lower() for taken in cleaned):
            candidate, copy = f"{clean} ({copy})", copy + 1
        cleaned.append(candidate)
    return cleaned
