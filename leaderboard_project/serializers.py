"""Serializer helpers shared by every app."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not accept, instead of silently ignoring them.

    A client that sends ``is_staff`` or mistypes ``scroe`` learns so with a 400
    naming the field, rather than believing the write took it.
    """

    def to_internal_value(self, data: Any) -> Any:
        if hasattr(data, "keys"):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = [key for key in data.keys() if key not in writable]
            if unknown:
                raise serializers.ValidationError(
                    {key: ["This field cannot be set." if key in self.fields else "Unknown field."] for key in unknown}
                )
        return super().to_internal_value(data)


class StrictModelSerializer(StrictSerializer, serializers.ModelSerializer):
    pass
