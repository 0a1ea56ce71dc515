"""A JSON parser with bounds on size and nesting, the default for every API view; a multipart
parser that cleans up after an interrupted upload.

Python's ``json`` recurses once per nested array or object, so a body nested 1,000 deep
(``[[[[...]]]]``, a few kB) raised ``RecursionError`` inside DRF's parser: a 500, and at
100,000 deep a crawl through the C stack. Nothing FaceLoop accepts nests deeper than four
levels, so the nesting is measured first, in one pass over the text that skips string
contents, and a body over :data:`MAX_JSON_DEPTH` is refused with a 400 naming the limit.
The body is read at most one byte past ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (DRF reads JSON from
the stream, past Django's own check on ``request.body``).
"""

from __future__ import annotations

import re

from django.conf import settings
from django.http import UnreadablePostError
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.utils import json

MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays and objects accepted in a JSON body."""

_STRUCTURE = re.compile(r'[\[\]{}"\\]')


class BodyTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"


def nesting_exceeds(text: str, limit: int) -> bool:
    """Whether arrays and objects in ``text`` nest deeper than ``limit`` (strings are skipped).

    Linear in the text: only brackets, quotes and backslashes are visited, and a backslash
    inside a string hides the character after it.
    """
    depth = 0
    in_string = False
    escaped = -1
    for match in _STRUCTURE.finditer(text):
        position, char = match.start(), match.group()
        if in_string:
            if position == escaped:
                continue
            if char == "\\":
                escaped = position + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser, refusing bodies over the size limit or nested over :data:`MAX_JSON_DEPTH`."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise BodyTooLarge(f"the JSON body is more than the limit of {limit} bytes")
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as error:
            raise ParseError(f"JSON parse error - the body is not {encoding}: {error}") from None
        if nesting_exceeds(text, MAX_JSON_DEPTH):
            raise ParseError(f"JSON parse error - nested deeper than the limit of {MAX_JSON_DEPTH} levels")
        parse_constant = json.strict_constant if self.strict else None
        try:
            return json.loads(text, parse_constant=parse_constant)
        except (ValueError, RecursionError) as error:
            raise ParseError(f"JSON parse error - {error}") from None


class CleaningMultiPartParser(MultiPartParser):
    """DRF's multipart parser that removes the half-written file of an upload cut short.

    Django streams a large upload into a temporary ``*.upload`` file. When the client goes
    away mid-body, reading raises (``UnreadablePostError``) and Django closes only the files
    it had finished: the one being written stayed on disk until the garbage collector found
    it, or for good if the worker was stopped first. Here every upload handler is told the
    upload was interrupted (Django's temporary-file handler then deletes its file) and the
    client gets a 400 with a sentence instead of a 500.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {})["request"]
        try:
            return super().parse(stream, media_type, parser_context)
        except BaseException as error:
            for handler in request.upload_handlers:
                handler.upload_interrupted()
            if isinstance(error, UnreadablePostError):
                raise ParseError("the upload was interrupted before it was complete; send it again") from None
            raise
