from django.urls import path

from . import api

urlpatterns = [
    path("games", api.GameListApi.as_view(), name="game-list"),
    path("games/<slug:id_or_slug>", api.GameDetailApi.as_view(), name="game-detail"),
]
