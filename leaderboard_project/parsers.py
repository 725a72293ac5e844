"""Request parsing with the body-size bound enforced while reading."""
from __future__ import annotations

import codecs
import json
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from .errors import PayloadTooLarge


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


class BoundedJSONParser(JSONParser):
    """JSON parser that reads at most ``API_MAX_BODY_BYTES`` and never raises a 500.

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
        try:
            return json.loads(text, parse_constant=_reject_constant)
        except ValueError as exc:
            raise ParseError(f"JSON parse error: {exc}") from exc
        except RecursionError as exc:
            raise ParseError("JSON parse error: nested too deeply.") from exc
