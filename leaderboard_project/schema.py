"""OpenAPI generation: every operation documents the error shape it may answer with."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework import serializers

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


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable snake_case error code.")
    message = serializers.CharField()
    fields = serializers.DictField(
        child=serializers.JSONField(), required=False, help_text="Per-field messages, for invalid input."
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


class AutoSchema(SpectacularAutoSchema):
    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        codes = [code for code in ERROR_DESCRIPTIONS if code not in ("413", "415") or self.method in _WRITE_METHODS]
        for code in codes:
            if code not in responses:
                response = self._get_response_for_code(ErrorSerializer, code, direction=direction)
                response["description"] = ERROR_DESCRIPTIONS[code]
                responses[code] = response
        return responses
