from __future__ import annotations

from django_countries import countries
from rest_framework import serializers

from common.serializers import StrictSerializer

from .models import CreditEntry, User, display_name_validator, username_validator


class CountryCodeField(serializers.CharField):
    """An ISO 3166-1 alpha-2 code ("FR"), or "" for none."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(max_length=2, allow_blank=True, **kwargs)

    def to_internal_value(self, data: object) -> str:
        code = super().to_internal_value(data).upper()
        if code and code not in dict(countries):
            raise serializers.ValidationError("Not an ISO 3166-1 alpha-2 country code.")
        return code

    def to_representation(self, value: object) -> str:
        return str(getattr(value, "code", value) or "")


class PublicUserSerializer(serializers.ModelSerializer):
    country = CountryCodeField(read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "display_name", "country", "created_at"]
        read_only_fields = fields


class UserSerializer(serializers.ModelSerializer):
    """A user as they see themselves."""

    country = CountryCodeField(read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "email", "display_name", "country", "is_staff", "created_at"]
        read_only_fields = fields


class MeSerializer(UserSerializer):
    """The signed-in user as they see themselves, with their credit balance."""

    credits = serializers.IntegerField(read_only=True, help_text="Credit balance: the sum of the ledger.")

    class Meta(UserSerializer.Meta):
        fields = [*UserSerializer.Meta.fields, "credits"]
        read_only_fields = fields


class CreditEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = CreditEntry
        fields = ["id", "amount", "kind", "reference", "description", "created_at"]
        read_only_fields = fields


class CreditPageSerializer(serializers.Serializer):
    """One offset page of the ledger, newest first, with the balance of the whole ledger."""

    balance = serializers.IntegerField(help_text="The sum of all the user's entries, not only this page's.")
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = CreditEntrySerializer(many=True)


class RegisterSerializer(StrictSerializer):
    username = serializers.CharField(max_length=32, validators=[username_validator])
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
    display_name = serializers.CharField(max_length=64, required=False, default="", validators=[display_name_validator])
    country = CountryCodeField(required=False, default="")


class LoginSerializer(StrictSerializer):
    username = serializers.CharField(max_length=254)
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)


class RefreshSerializer(StrictSerializer):
    refresh = serializers.CharField(max_length=2048)


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()
    user = UserSerializer()


class AccessTokenSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class MeUpdateSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254, required=False)
    display_name = serializers.CharField(
        max_length=64, required=False, allow_blank=True, validators=[display_name_validator]
    )
    country = CountryCodeField(required=False)
    # Shown so that a client trying to change them is told they cannot.
    username = serializers.CharField(read_only=True)
    is_staff = serializers.BooleanField(read_only=True)
