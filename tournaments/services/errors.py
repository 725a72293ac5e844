"""The tournaments' domain errors, each with its stable code (rendered at the edge by ``common.errors``)."""

from __future__ import annotations

from rest_framework import status

from common.errors import Conflict, DomainError


class TournamentInvalid(DomainError):
    code = "invalid"
    message = "Some fields are invalid."


class TournamentFull(Conflict):
    code = "tournament_full"
    message = "This tournament has no free seat."


class AlreadyJoined(Conflict):
    code = "already_joined"
    message = "You are already registered in this tournament."


class RegistrationClosed(Conflict):
    code = "registration_closed"
    message = "This tournament no longer takes registrations."


class PlacedOnly(Conflict):
    code = "placed_only"
    message = "Players are placed in this tournament (a league's cohort); nobody joins it by asking."


class NotJoined(Conflict):
    code = "not_joined"
    message = "You are not registered in this tournament."


class LeaveClosed(Conflict):
    code = "tournament_started"
    message = "Players may leave a tournament only before it starts."


class IllegalTransition(Conflict):
    code = "invalid_transition"
    message = "The tournament cannot do that in its current state."


class NotOrganizer(DomainError):
    code = "permission_denied"
    status_code = status.HTTP_403_FORBIDDEN
    message = "Only the organizer or staff may do this."
