"""Accounts API: register, login, token refresh, logout, me, my credits, public profiles."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenRefreshView

from common.pagination import MAX_OFFSET, MAX_PAGE_SIZE, OffsetPagination

from . import selectors, services
from .models import CreditEntry, User
from .permissions import IsPlayer
from .serializers import (
    AccessTokenSerializer,
    CreditEntrySerializer,
    CreditPageSerializer,
    LoginSerializer,
    MeSerializer,
    MeUpdateSerializer,
    RefreshSerializer,
    RegisterSerializer,
    TokenPairSerializer,
    UserSerializer,
)
from .throttles import THROTTLES, ProfileChangeThrottle, first_refusal


def _token_pair_body(user: User) -> dict:
    return {**services.user_tokens(user=user), "user": UserSerializer(user).data}


class _AnonymousEndpoint(APIView):
    # Credentials are the body; a stale bearer token or a session must not get in the way.
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = list(THROTTLES)

    def check_throttles(self, request: Request) -> None:
        wait = first_refusal(request, self)
        if wait is not None:
            self.throttled(request, wait)


class RegisterApi(_AnonymousEndpoint):
    throttle_scope = "register"

    @extend_schema(request=RegisterSerializer, responses={201: TokenPairSerializer}, tags=["users"])
    def post(self, request: Request) -> Response:
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_register(**serializer.validated_data)
        return Response(_token_pair_body(user), status=status.HTTP_201_CREATED)


class LoginApi(_AnonymousEndpoint):
    throttle_scope = "login"

    @extend_schema(request=LoginSerializer, responses={200: TokenPairSerializer}, tags=["users"])
    def post(self, request: Request) -> Response:
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_login(request=request._request, **serializer.validated_data)
        return Response(_token_pair_body(user))


class TokenRefreshApi(TokenRefreshView):
    """Trade a refresh token for a new access token and a new refresh token (the old one is blacklisted)."""

    authentication_classes: list = []

    @extend_schema(request=RefreshSerializer, responses={200: AccessTokenSerializer}, tags=["users"])
    def post(self, request: Request, *args: object, **kwargs: object) -> Response:
        RefreshSerializer(data=request.data).is_valid(raise_exception=True)
        return super().post(request, *args, **kwargs)


class LogoutApi(_AnonymousEndpoint):
    @extend_schema(request=RefreshSerializer, responses={204: None}, tags=["users"])
    def post(self, request: Request) -> Response:
        serializer = RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.user_logout(refresh=serializer.validated_data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)


def _me_body(user: User) -> dict:
    user.credits = selectors.credit_balance(user_id=user.pk)
    return MeSerializer(user).data


class MeApi(APIView):
    permission_classes = [IsPlayer]
    throttle_classes = [ProfileChangeThrottle]

    @extend_schema(responses={200: MeSerializer}, tags=["users"])
    def get(self, request: Request) -> Response:
        return Response(_me_body(request.user))

    @extend_schema(request=MeUpdateSerializer, responses={200: MeSerializer}, tags=["users"])
    def patch(self, request: Request) -> Response:
        serializer = MeUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        user = services.user_update(user=request.user, **serializer.validated_data)
        return Response(_me_body(user))


class MeCreditsApi(GenericAPIView):
    """The signed-in user's credit ledger, newest first, and their balance."""

    permission_classes = [IsPlayer]
    pagination_class = OffsetPagination
    blank_query_parameters = ("limit", "offset")

    def get_queryset(self) -> QuerySet[CreditEntry]:
        # Also called by the browsable API's renderer.
        return selectors.credit_entries(user_id=self.request.user.pk)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
                description=f"Entries per page, 1 to {MAX_PAGE_SIZE}.",
            ),
            OpenApiParameter(
                "offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}, description="Entries to skip."
            ),
        ],
        responses={200: CreditPageSerializer},
        tags=["users"],
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        paginated = self.get_paginated_response(CreditEntrySerializer(page, many=True).data)
        return Response({"balance": selectors.credit_balance(user_id=request.user.pk), **paginated.data})
