"""OpenAPI generation: every operation documents the error shape it may answer with."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import force_instance
from rest_framework import serializers
from rest_framework.request import Request

from .serializers import StrictSerializer

ERROR_DESCRIPTIONS = {
    "400": "Invalid input; `fields` names each invalid field.",
    "401": "Missing or invalid credentials.",
    "403": "Authenticated but not allowed.",
    "404": "No such resource.",
    "413": "Request body too large.",
    "415": "Unsupported content type.",
    "429": "Throttled; see the Retry-After header.",
}
_WRITE_METHODS = {"POST", "PUT", "PATCH"}
_VERSION = re.compile(r"v\d+")


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable snake_case error code.")
    message = serializers.CharField()
    fields = serializers.DictField(
        child=serializers.JSONField(), required=False, help_text="Per-field messages, for invalid input."
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


class AutoSchema(SpectacularAutoSchema):
    """Also reads ``blank_query_parameters`` of a view: the query parameters it reads as absent when empty
    (``?status=``), documented with ``allowEmptyValue``."""

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        blank = getattr(self.view, "blank_query_parameters", ())
        for parameter in (operation or {}).get("parameters", []):
            if parameter["in"] == "query" and parameter["name"] in blank:
                parameter["allowEmptyValue"] = True
        return operation

    def get_tags(self) -> list[str]:
        # drf-spectacular tags an operation that names no tags by the first segment of its path after the prefix
        # common to all paths. That prefix is /api (the schema and the docs sit beside /api/v1), so the segment
        # would be the version: tag by the resource after it instead. Setting SCHEMA_PATH_PREFIX would do the
        # same but also rename every operationId, which clients generated from the schema use.
        return [token for token in self._tokenize_path() if not _VERSION.fullmatch(token)][:1]

    def get_auth(self) -> list[dict[str, Any]]:
        # drf-spectacular marks credentials optional only for AllowAny and IsAuthenticatedOrReadOnly; the
        # project's own permissions (anyone reads a game, staff write) say so by letting an anonymous caller in.
        auths = super().get_auth()
        if {} not in auths and self._anonymous_allowed():
            auths.append({})
        return auths

    def _anonymous_allowed(self) -> bool:
        http_request = HttpRequest()
        http_request.method = self.method
        request = Request(http_request)
        request.user = AnonymousUser()
        return all(permission.has_permission(request, self.view) for permission in self.view.get_permissions())

    def _map_serializer(self, serializer: Any, direction: str, bypass_extensions: bool = False) -> dict[str, Any]:
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if direction == "request" and isinstance(force_instance(serializer), StrictSerializer):
            schema["additionalProperties"] = False  # a field it does not accept is a 400, not ignored
        return schema

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        codes = [code for code in ERROR_DESCRIPTIONS if code not in ("413", "415") or self.method in _WRITE_METHODS]
        for code in codes:
            if code not in responses:
                response = self._get_response_for_code(ErrorSerializer, code, direction=direction)
                response["description"] = ERROR_DESCRIPTIONS[code]
                responses[code] = response
        return responses
