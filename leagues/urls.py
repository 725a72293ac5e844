from django.urls import path

from . import api

urlpatterns = [
    path("leagues", api.LeagueListApi.as_view(), name="league-list"),
    path("leagues/<str:league>", api.LeagueDetailApi.as_view(), name="league-detail"),
    path("leagues/<str:league>/cohorts", api.LeagueCohortsApi.as_view(), name="league-cohorts"),
    path("leagues/<str:league>/me", api.LeagueMeApi.as_view(), name="league-me"),
]
