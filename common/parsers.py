"""Request parsing with the body-size bound enforced while reading."""

from __future__ import annotations

import codecs
import json
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from .errors import PayloadTooLarge

# Deep enough for any real payload; shallow enough that every parsed value can be
# re-encoded (json.dumps recurses) without hitting the interpreter's recursion limit.
MAX_JSON_DEPTH = 32


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def json_depth_exceeds(value: Any, limit: int) -> bool:
    """Whether lists/dicts in a parsed JSON value nest deeper than ``limit`` (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class BoundedJSONParser(JSONParser):
    """JSON parser that reads at most ``API_MAX_BODY_BYTES``, refuses deep nesting, and never raises a 500.

    DRF reads the raw request stream, bypassing Django's
    ``DATA_UPLOAD_MAX_MEMORY_SIZE``, so the bound is applied here; chunked
    bodies without a Content-Length are caught too.
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        if stream is None:
            raise ParseError("The request body is empty.")
        limit = settings.API_MAX_BODY_BYTES
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        try:
            text = codecs.decode(raw, encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(f"The request body is not valid {encoding}.") from exc
        too_deep = f"JSON parse error: nested deeper than {MAX_JSON_DEPTH} levels."
        try:
            data = json.loads(text, parse_constant=_reject_constant)
        except ValueError as exc:
            raise ParseError(f"JSON parse error: {exc}") from exc
        except RecursionError:
            raise ParseError(too_deep) from None
        if json_depth_exceeds(data, MAX_JSON_DEPTH):
            raise ParseError(too_deep)
        return data
