"""Offset/limit paging with strict parameters: a bad ``limit`` is a 400, not a silent default (an empty one is
the default)."""

from __future__ import annotations

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request

MAX_PAGE_SIZE = 100
MAX_OFFSET = 10**12


def parse_bounded_int(request: Request, name: str, *, default: int, minimum: int, maximum: int) -> int:
    """Read an integer query parameter, or raise a 400 naming it."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError({name: [f"Must be an integer between {minimum} and {maximum}."]}) from None
    if not minimum <= value <= maximum:
        raise ValidationError({name: [f"Must be an integer between {minimum} and {maximum}."]})
    return value


class OffsetPagination(LimitOffsetPagination):
    max_limit = MAX_PAGE_SIZE

    def get_limit(self, request: Request) -> int:
        return parse_bounded_int(
            request, self.limit_query_param, default=self.default_limit, minimum=1, maximum=self.max_limit
        )

    def get_offset(self, request: Request) -> int:
        return parse_bounded_int(request, self.offset_query_param, default=0, minimum=0, maximum=MAX_OFFSET)

    def get_schema_operation_parameters(self, view: object) -> list[dict]:
        # The bounds parse_bounded_int enforces, and the empty value it reads as the default.
        bounds = {self.limit_query_param: (1, self.max_limit), self.offset_query_param: (0, MAX_OFFSET)}
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            minimum, maximum = bounds[parameter["name"]]
            parameter["schema"] = {**parameter["schema"], "minimum": minimum, "maximum": maximum}
            parameter["allowEmptyValue"] = True
        return parameters
