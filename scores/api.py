"""Score API: submit (players and game servers), batch (game servers), history, void (staff)."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.permissions import BasePermission, IsAdminUser, IsAuthenticatedOrReadOnly
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from accounts.auth import GameServer
from accounts.models import User
from accounts.permissions import IsPlayer, is_player
from common.errors import DomainError, error_body
from common.pagination import parse_bounded_int
from common.parsers import MAX_JSON_DEPTH, json_depth_exceeds
from common.schema import ErrorSerializer
from games.models import INT64_MAX, INT64_MIN, Game
from games.selectors import game_get, game_get_cached
from games.tiebreak import shown
from rankings import selectors as rankings
from rankings.boards import Board, game_board_at, global_board_at
from rankings.engine.base import Entry, percentile
from rankings.periods import Period

from . import groupcommit, selectors, services, sessions
from .models import Score, Source
from .serializers import (
    IDEMPOTENCY_KEY_PATTERN,
    BatchRequestSerializer,
    BatchResponseSerializer,
    HistoryQuerySerializer,
    MatchSessionSerializer,
    ModerationReasonSerializer,
    ScoreSerializer,
    ScoreSubmitSerializer,
    ShadowBanSerializer,
    SubmitResponseSerializer,
    VoidSerializer,
    submit_response_body,
)
from .services import moderation

_KEY_RE = re.compile(IDEMPOTENCY_KEY_PATTERN)
SUBMIT_CONFLICT = OpenApiResponse(
    ErrorSerializer,
    description="The idempotency key was used for another score (`idempotency_key_reused`), or the score would take "
    "a total beyond a signed 64-bit integer (`board_value_overflow`).",
)
ALREADY_VOID = OpenApiResponse(ErrorSerializer, description="The score is already void (`score_already_void`).")
_BATCH_FIELDS = {"user_id", "game_id", "score", "tiebreak", "metadata", "idempotency_key"}


class IsGameServer(BasePermission):
    message = "This needs a game server's API key."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return isinstance(request.user, GameServer)


def _standing(board: Board, entry: Entry | None, size: int) -> dict | None:
    if entry is None:
        return None
    value, tiebreak = shown(board.tiebreak, entry.value)
    return {
        "board": board.key,
        "rank": entry.rank,
        "value": value,
        "tiebreak": tiebreak,
        "size": size,
        "percentile": percentile(entry.rank, size),
    }


def _submit_body(game: Game, result: services.SubmitResult) -> dict:
    """The answer to a submission: the score, and where the player now stands on the game's and the global
    all-time boards (a shadow-banned player: where they would stand, as if they were not banned)."""
    return _submit_bodies(game, [result])[0]


def _submit_bodies(game: Game, results: Sequence[services.SubmitResult]) -> list[dict]:
    """``_submit_body`` of several submissions to one game, their standings read at once."""
    now = timezone.now()
    boards = [game_board_at(game, Period.ALL, now)]
    if game.counts_toward_global:
        boards.append(global_board_at(Period.ALL, now))
    standings = rankings.players_standings(
        boards=boards, players=[(result.score.user_id, result.hidden) for result in results]
    )
    bodies = []
    for result, found in zip(results, standings, strict=True):
        game_standing, global_standing = [*(_standing(b, *pair) for b, pair in zip(boards, found, strict=True)), None][
            :2
        ]
        bodies.append(
            submit_response_body(
                score=result.score, replayed=result.replayed, game_board=game_standing, global_board=global_standing
            )
        )
    return bodies


def _moment(text: str) -> bool:
    """Whether a cursor's position is a moment the history can be ordered from."""
    try:
        moment = parse_datetime(text)
    except ValueError:
        return False
    return moment is not None and timezone.is_aware(moment)


class ScoreListApi(GenericAPIView):
    permission_classes = [IsAuthenticatedOrReadOnly]
    serializer_class = ScoreSerializer

    class pagination_class(CursorPagination):  # noqa: N801  DRF looks the class up by this name
        ordering = ("-created_at", "-id")
        page_size = 50
        max_page_size = 200
        page_size_query_param = "limit"

        def get_page_size(self, request: Request) -> int:
            # A bad limit is a 400, as on every other list, not DRF's silent fallback to the default.
            return parse_bounded_int(
                request, self.page_size_query_param, default=self.page_size, minimum=1, maximum=self.max_page_size
            )

        def decode_cursor(self, request: Request) -> Cursor | None:
            # DRF answers a cursor it cannot read with 404 and passes its position to the query unread: a forged
            # one (base64 of "p=x") reached the database as a moment. Both are the client's error: 400.
            invalid = ValidationError({self.cursor_query_param: ["Invalid cursor: use the one a page's next names."]})
            try:
                cursor = super().decode_cursor(request)
            except NotFound:
                raise invalid from None
            if cursor and cursor.position is not None and not _moment(cursor.position):
                raise invalid
            return cursor

        def get_schema_operation_parameters(self, view: APIView) -> list[dict]:
            parameters = super().get_schema_operation_parameters(view)
            for parameter in parameters:
                if parameter["name"] == self.page_size_query_param:
                    parameter["schema"] = {**parameter["schema"], "minimum": 1, "maximum": self.max_page_size}
                    parameter["allowEmptyValue"] = True
            return parameters

    def get_queryset(self) -> Any:
        query = HistoryQuerySerializer(data=self.request.query_params.dict())
        query.is_valid(raise_exception=True)
        game = None
        if "game_id" in query.validated_data:
            game = game_get(id_or_slug=query.validated_data["game_id"])
            if game is None:
                raise NotFound("No such game.")
        return selectors.score_history(user_id=query.validated_data.get("user_id"), game=game, viewer=self.request.user)

    @extend_schema(parameters=[HistoryQuerySerializer], responses={200: ScoreSerializer(many=True)}, tags=["scores"])
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ScoreSerializer(page, many=True).data)

    @extend_schema(
        request=ScoreSubmitSerializer,
        responses={
            201: SubmitResponseSerializer,
            200: SubmitResponseSerializer,
            403: OpenApiResponse(
                ErrorSerializer,
                description="Not yours to submit: another player's score, a game of another API key, a game that "
                "takes scores from its servers only (`server_authoritative`), or `synthetic_mismatch`.",
            ),
            409: SUBMIT_CONFLICT,
        },
        tags=["scores"],
    )
    def post(self, request: Request) -> Response:
        """Submit a score: a player for themselves, or a game server (API key) for any player of its games.

        A game may take scores from its servers only, or from players within a match session
        (`POST /games/{game}/sessions`, then `session_id` here)."""
        if isinstance(request.user, GameServer):
            services.api_key_rate_check(api_key=request.user.api_key, scores=1)
        serializer = ScoreSubmitSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        game = game_get_cached(id_or_slug=data["game_id"])
        if game is None:
            raise ValidationError({"game_id": ["No such game."]})
        user, source, api_key = self._submitter(request, data.get("user_id"), game)
        result = services.score_submit(
            user=user,
            game=game,
            value=data["score"],
            tiebreak=data.get("tiebreak"),
            metadata=data.get("metadata"),
            idempotency_key=data.get("idempotency_key"),
            source=source,
            api_key=api_key,
            session_id=data.get("session_id"),
        )
        code = status.HTTP_200_OK if result.replayed else status.HTTP_201_CREATED
        return Response(_submit_body(game, result), status=code)

    def _submitter(self, request: Request, user_id: uuid.UUID | None, game: Game) -> tuple[User, str, Any]:
        if isinstance(request.user, GameServer):
            if not request.user.may_write(game):
                raise PermissionDenied("This API key may not write for this game.", code="game_not_allowed")
            if user_id is None:
                raise ValidationError({"user_id": ["A game server must say whose score this is."]})
            user = User.objects.filter(pk=user_id, is_active=True).first()
            if user is None:
                raise ValidationError({"user_id": ["No such active user."]})
            return user, Source.SERVER, request.user.api_key
        if not is_player(request):
            raise PermissionDenied()
        if user_id is not None and user_id != request.user.pk:
            raise PermissionDenied("A player may submit scores only for themselves.", code="not_your_account")
        return request.user, Source.CLIENT, None


@dataclass(frozen=True)
class _Invalid(services.BatchOutcome):
    """An item refused for its shape before the service sees it; ``field`` is the field at fault."""

    field: str | None = None


# The item field each of the service's refusals is about, so every refused item names the field to fix.
_FIELD_OF_CODE = {
    "game_not_found": "game_id",
    "game_not_allowed": "game_id",
    "game_inactive": "game_id",
    "user_not_found": "user_id",
    "score_out_of_bounds": "score",
    "board_value_overflow": "score",
    "metadata_too_large": "metadata",
    "idempotency_key_repeated": "idempotency_key",
}
_SLUG_RE = re.compile(r"^[-a-zA-Z0-9_]+$")


def _uuid(value: Any) -> uuid.UUID | None:
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _game_id_problem(raw: dict) -> str:
    if "game_id" not in raw:
        return "This field is required: the game's id."
    value = raw["game_id"]
    if isinstance(value, str) and _SLUG_RE.match(value):
        # The single submission takes a slug too; a batch names games by id, so that a thousand items cost no
        # lookups by slug.
        return "Must be the game's id (a UUID); a batch does not take a game's slug."
    return "Must be a game id (a UUID string)."


def _batch_item(index: int, raw: Any) -> services.BatchItem | services.BatchOutcome:
    """Check one item's shape by hand: a thousand serializers per request would dominate the cost."""

    def invalid(field: str | None, message: str) -> services.BatchOutcome:
        text = f"{field}: {message}" if field else message
        return _Invalid(index, "rejected", code="invalid", message=text, field=field)

    if not isinstance(raw, dict):
        return invalid(None, "Each item must be an object.")
    unknown = set(raw) - _BATCH_FIELDS
    if unknown:
        return invalid(sorted(unknown)[0], f"Unknown field; an item has {', '.join(sorted(_BATCH_FIELDS))}.")
    user_id = _uuid(raw.get("user_id"))
    if user_id is None:
        return invalid(
            "user_id", "Must be a user id (a UUID string)." if "user_id" in raw else "This field is required."
        )
    game_id = _uuid(raw.get("game_id"))
    if game_id is None:
        return invalid("game_id", _game_id_problem(raw))
    value = raw.get("score")
    if not isinstance(value, int) or isinstance(value, bool) or not INT64_MIN <= value <= INT64_MAX:
        return invalid("score", "Must be a signed 64-bit integer.")
    tiebreak = raw.get("tiebreak")
    if tiebreak is not None and (type(tiebreak) is not int or not 0 <= tiebreak <= INT64_MAX):
        return invalid("tiebreak", "Must be an integer from 0 to 2^63 − 1, or null.")
    metadata = raw.get("metadata", {})
    if not isinstance(metadata, dict):
        return invalid("metadata", "Must be a JSON object.")
    key = raw.get("idempotency_key")
    if key is not None and (not isinstance(key, str) or not _KEY_RE.match(key)):
        return invalid("idempotency_key", "Must be 1 to 64 letters, digits, '_', '.', ':' or '-'.")
    return services.BatchItem(user_id, game_id, value, metadata, key, tiebreak)


class ScoreBatchApi(APIView):
    permission_classes = [IsGameServer]

    @extend_schema(request=BatchRequestSerializer, responses={200: BatchResponseSerializer}, tags=["scores"])
    def post(self, request: Request) -> Response:
        """Up to 1,000 scores in one transaction; each invalid item is reported by index, the rest are stored."""
        raw = request.data.get("scores") if isinstance(request.data, dict) else None
        if not isinstance(raw, list) or not raw:
            raise ValidationError({"scores": ["Must be a non-empty list of score objects."]})
        if len(raw) > services.MAX_BATCH:
            raise ValidationError({"scores": [f"At most {services.MAX_BATCH} scores per batch."]})
        services.api_key_rate_check(api_key=request.user.api_key, scores=len(raw))
        parsed = [_batch_item(index, item) for index, item in enumerate(raw)]
        items = [(index, item) for index, item in enumerate(parsed) if isinstance(item, services.BatchItem)]
        stored = services.score_submit_batch(api_key=request.user.api_key, items=[item for _, item in items])
        outcomes = list(parsed)
        for (index, _), outcome in zip(items, stored, strict=True):
            outcomes[index] = services.BatchOutcome(
                index, outcome.status, outcome.score_id, outcome.code, outcome.message
            )
        results = [_outcome_body(outcome) for outcome in outcomes]
        counts = {
            status_: sum(1 for o in outcomes if o.status == status_) for status_ in ("created", "duplicate", "rejected")
        }
        return Response(
            {
                "created": counts["created"],
                "duplicates": counts["duplicate"],
                "rejected": counts["rejected"],
                "results": results,
            }
        )


def _outcome_body(outcome: services.BatchOutcome) -> dict:
    body: dict[str, Any] = {"index": outcome.index, "status": outcome.status}
    if outcome.score_id is not None:
        body["score_id"] = outcome.score_id
    if outcome.code is not None:
        body["error"] = {"code": outcome.code, "message": outcome.message}
        field = outcome.field if isinstance(outcome, _Invalid) else _FIELD_OF_CODE.get(outcome.code)
        if field is not None:
            body["error"]["fields"] = {field: [(outcome.message or "").removeprefix(f"{field}: ")]}
    return body


def _staff_reason(request: Request, serializer_class: type[serializers.Serializer]) -> str:
    """The reason a staff member (signed in as a player, not a game server) gives for a moderation action."""
    if not is_player(request):
        raise PermissionDenied()
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data["reason"]


class ScoreVoidApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(request=VoidSerializer, responses={200: ScoreSerializer, 409: ALREADY_VOID}, tags=["scores"])
    def post(self, request: Request, score_id: int) -> Response:
        """Staff: void a cheated score; every board it counted on is recomputed, and the void is audited."""
        reason = _staff_reason(request, VoidSerializer)
        score = Score.objects.filter(pk=score_id).first()
        if score is None:
            raise NotFound("No such score.")
        score = services.score_void(score=score, actor=request.user, reason=reason)
        return Response(ScoreSerializer(score).data)


NO_PLAYER = OpenApiResponse(ErrorSerializer, description="No such player.")
SHADOW_BAN_CONFLICT = OpenApiResponse(
    ErrorSerializer, description="Banned already (`already_shadow_banned`), or not banned (`not_shadow_banned`)."
)


class ShadowBanApi(APIView):
    permission_classes = [IsAdminUser]

    def _player(self, request: Request, user_id: uuid.UUID) -> tuple[User, str]:
        reason = _staff_reason(request, ModerationReasonSerializer)
        user = User.objects.filter(pk=user_id).first()
        if user is None:
            raise NotFound("No such player.")
        return user, reason

    @extend_schema(
        request=ModerationReasonSerializer,
        responses={200: ShadowBanSerializer, 404: NO_PLAYER, 409: SHADOW_BAN_CONFLICT},
        tags=["moderation"],
    )
    def post(self, request: Request, user_id: uuid.UUID) -> Response:
        """Staff: shadow-ban a player. Their scores are kept and shown to them only: off every public board,
        feed, history and tournament place, while their own reads show them where they would stand."""
        user, reason = self._player(request, user_id)
        audit = moderation.player_shadow_ban(user=user, actor=request.user, reason=reason)
        return Response(ShadowBanSerializer(audit).data)

    @extend_schema(
        request=ModerationReasonSerializer,
        responses={200: ShadowBanSerializer, 404: NO_PLAYER, 409: SHADOW_BAN_CONFLICT},
        tags=["moderation"],
    )
    def delete(self, request: Request, user_id: uuid.UUID) -> Response:
        """Staff: lift a shadow-ban. The player's standings return to the public boards, those of the ban's
        time included; a tournament that ended meanwhile keeps its places."""
        user, reason = self._player(request, user_id)
        audit = moderation.player_shadow_ban_lift(user=user, actor=request.user, reason=reason)
        return Response(ShadowBanSerializer(audit).data)


class MatchSessionApi(APIView):
    """Open a match session on a game whose scores need one: its id goes with the score that ends the match."""

    permission_classes = [IsPlayer]

    @extend_schema(
        request=None,
        responses={
            201: MatchSessionSerializer,
            404: OpenApiResponse(ErrorSerializer, description="No such game."),
            429: OpenApiResponse(ErrorSerializer, description="Too many sessions on this game (`throttled`)."),
        },
        tags=["scores"],
    )
    def post(self, request: Request, id_or_slug: str) -> Response:
        game = game_get(id_or_slug=id_or_slug)
        if game is None or not game.is_active:
            raise NotFound("No such game.")
        session = sessions.session_open(user=request.user, game=game)
        return Response(MatchSessionSerializer(session).data, status=status.HTTP_201_CREATED)


# --- the hot route (common.hotpath) ----------------------------------------------------------------

_jwt = JWTAuthentication()
_HOT_FIELDS = frozenset({"game_id", "score", "tiebreak", "metadata", "idempotency_key"})
_SUBMIT_HEADERS = {"Vary": "Accept", "Allow": "GET, POST, HEAD, OPTIONS"}


# Access tokens this process verified: raw token -> (player, expiry as a Unix time). A game sends its token
# with every request, and verifying it (base64, JSON, HMAC, claims) was a tenth of a submission's CPU. What
# simplejwt decides depends only on the token's bytes, the signing key and the clock, so a verified token
# stays good until it expires.
_verified: dict[bytes, tuple[uuid.UUID, float]] = {}
VERIFIED_TOKENS_MAX = 10_000


def _token_user_id(request: HttpRequest) -> uuid.UUID | None:
    """The player a valid access token names (simplejwt's checks: signature, expiry, audience, type), or None."""
    header = _jwt.get_header(request)
    parts = header.split() if header else []
    if len(parts) != 2 or parts[0] != b"Bearer":
        return None
    raw = parts[1]
    known = _verified.get(raw)
    if known is not None and time.time() < known[1]:
        return known[0]
    try:
        token = _jwt.get_validated_token(raw)
        user_id = uuid.UUID(str(token[jwt_settings.USER_ID_CLAIM]))
        expires = float(token["exp"])
    except (InvalidToken, TokenError, KeyError, ValueError, TypeError):
        return None
    if len(_verified) >= VERIFIED_TOKENS_MAX:
        _verified.clear()  # a burst of new tokens: start over rather than keep an order of use
    _verified[raw] = (user_id, expires)
    return user_id


def _plain_submission(request: HttpRequest) -> dict | None:
    """The body of a plain submission (game, score, metadata, idempotency key), exactly as the serializer would
    take it; None for anything else."""
    if request.content_type != "application/json" or request.content_params.get("charset", "utf-8") != "utf-8":
        return None
    length = request.META.get("CONTENT_LENGTH", "")
    if not length.isdigit() or int(length) > settings.API_MAX_BODY_BYTES:
        return None
    try:  # as BoundedJSONParser reads it
        data = json.loads(request.body.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    if not isinstance(data, dict) or not _HOT_FIELDS.issuperset(data) or json_depth_exceeds(data, MAX_JSON_DEPTH):
        return None
    game_id, value, key = data.get("game_id"), data.get("score"), data.get("idempotency_key")
    if not isinstance(game_id, str) or not 0 < len(game_id) <= 64 or game_id != game_id.strip():
        return None
    if type(value) is not int or not INT64_MIN <= value <= INT64_MAX:
        return None
    tiebreak = data.get("tiebreak")
    if tiebreak is not None and (type(tiebreak) is not int or not 0 <= tiebreak <= INT64_MAX):
        return None
    if key is not None and not (isinstance(key, str) and len(key) <= 64 and _KEY_RE.fullmatch(key)):
        return None
    if not isinstance(data.get("metadata", {}), dict):
        return None
    return data


def _no_constant(name: str) -> None:
    raise ValueError(name)


def score_submit_hot(request: HttpRequest) -> HttpResponse | None:
    """A player's plain submission with an access token: the service called without DRF's request cycle, the
    player read and locked by the statement that takes their lock. Anything else (an API key, a session, a
    player named in the body, a match session, a body the serializer would refuse) is None: the full route
    answers it, with its errors."""
    user_id = _token_user_id(request)
    data = _plain_submission(request) if user_id is not None else None
    game = game_get_cached(id_or_slug=data["game_id"]) if data is not None else None
    if game is None:
        return None
    answer = _submissions.submit(
        services.PlayerScore(
            user_id=user_id,
            game=game,
            value=data["score"],
            metadata=data.get("metadata") or {},
            idempotency_key=data.get("idempotency_key"),
            tiebreak=data.get("tiebreak"),
        )
    )
    if isinstance(answer, services.PlayerGone):
        return None
    if isinstance(answer, DomainError):
        return _json(error_body(answer.code, answer.message, answer.fields), answer.status_code, answer.headers)
    result, body = answer
    return _json(body, status.HTTP_200_OK if result.replayed else status.HTTP_201_CREATED)


Answer = tuple[services.SubmitResult, dict] | DomainError


def _answers(items: Sequence[services.PlayerScore], outcomes: list[groupcommit.Outcome]) -> list[Answer]:
    """Each stored submission with its answer's body (the standings of a game's players read at once); each
    refused one as its error."""
    answers: dict[int, Answer] = {index: out for index, out in enumerate(outcomes) if isinstance(out, DomainError)}
    stored: dict[uuid.UUID, list[tuple[int, services.SubmitResult]]] = {}
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, services.SubmitResult):
            stored.setdefault(items[index].game.pk, []).append((index, outcome))
    for of_game in stored.values():
        bodies = _submit_bodies(items[of_game[0][0]].game, [result for _, result in of_game])
        for (index, result), body in zip(of_game, bodies, strict=True):
            answers[index] = (result, body)
    return [answers[index] for index in range(len(items))]


_submissions = groupcommit.SubmitQueue(services.score_submit_group, _answers)


def _json(body: dict, code: int, headers: dict[str, str] | None = None) -> HttpResponse:
    """What DRF's JSON renderer and this route's view would send."""
    response = HttpResponse(JSONRenderer().render(body), status=code, content_type="application/json")
    for name, value in (_SUBMIT_HEADERS | (headers or {})).items():
        response[name] = value
    return response
