"""Reading user-supplied text (CSV files, list files) with a bound on every line and field.

An uploaded CSV may be one 70 MB line. Python's ``csv`` module reads a whole physical line
into memory before it parses it (a 40 MB line cost the web worker about 600 MB), and a field
past ``csv.field_size_limit`` raises ``csv.Error``, which is not a ``ValueError`` and so
escaped the importers' error handling. Importers read text through :func:`bounded_lines` and
:func:`csv_rows` instead: at most the limit plus one character of a line is ever read, and an
over-long line or field, or a file ``csv`` cannot parse, is a :class:`TextLimitError` (a
``ValueError``) that names the line and the limit.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import TextIO

MAX_LINE_CHARS = 1024 * 1024
"""Longest line read, line ending included. A FER2013 row of a 48x48 face is about 9,000
characters and one of a 256x256 face about 260,000, so real files stay far below it."""

MAX_FIELD_CHARS = 1024 * 1024
"""Longest CSV field; a quoted field may span lines, so this is checked apart from lines."""


class TextLimitError(ValueError):
    """A text file has a line or field over the limits, or is not readable as CSV."""


def bounded_lines(handle: TextIO, source: str, *, max_chars: int = MAX_LINE_CHARS) -> Iterator[str]:
    """Yield the lines of ``handle``; raise once a line is longer than ``max_chars``.

    Raises:
        TextLimitError: naming ``source``, the line number and the limit.
    """
    number = 0
    while line := handle.readline(max_chars + 1):
        number += 1
        if len(line) > max_chars:
            raise TextLimitError(
                f"{source}: line {number} is longer than the limit of {max_chars} characters"
            )
        yield line


def csv_rows(
    handle: TextIO,
    source: str,
    *,
    max_line_chars: int = MAX_LINE_CHARS,
    max_field_chars: int = MAX_FIELD_CHARS,
) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line number, cells)`` for each CSV record of ``handle`` (opened with ``newline=""``).

    ``csv.field_size_limit`` is process-wide; it is set to ``max_field_chars`` here, which
    only ever lowers it from the 64 MiB the importers used to set.

    Raises:
        TextLimitError: for a line or field over its limit, or text ``csv`` cannot parse
            (a NUL byte, an unterminated quote at the end of the file).
    """
    csv.field_size_limit(max_field_chars)
    reader = csv.reader(bounded_lines(handle, source, max_chars=max_line_chars))
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            if "field larger than field limit" in str(error):
                raise TextLimitError(
                    f"{source}: line {reader.line_num} has a field longer than the limit of "
                    f"{max_field_chars} characters"
                ) from None
            raise TextLimitError(f"{source}: line {reader.line_num} is not valid CSV: {error}") from None
        yield reader.line_num, row
