from django.urls import path

from . import api

urlpatterns = [
    path("tournaments", api.TournamentListApi.as_view(), name="tournament-list"),
    path("tournaments/register", api.TournamentRegisterApi.as_view(), name="tournament-register"),
    path("tournaments/<int:tournament_id>", api.TournamentDetailApi.as_view(), name="tournament-detail"),
    path("tournaments/<int:tournament_id>/join", api.TournamentJoinApi.as_view(), name="tournament-join"),
    path("tournaments/<int:tournament_id>/leave", api.TournamentLeaveApi.as_view(), name="tournament-leave"),
    path("tournaments/<int:tournament_id>/cancel", api.TournamentCancelApi.as_view(), name="tournament-cancel"),
    path(
        "tournaments/<int:tournament_id>/participants",
        api.TournamentParticipantsApi.as_view(),
        name="tournament-participants",
    ),
    path(
        "tournaments/<int:tournament_id>/standings", api.TournamentStandingsApi.as_view(), name="tournament-standings"
    ),
]
