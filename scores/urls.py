from django.urls import path

from . import api, review_api

urlpatterns = [
    path("scores", api.ScoreListApi.as_view(), name="score-list"),
    path("scores/batch", api.ScoreBatchApi.as_view(), name="score-batch"),
    path("scores/<int:score_id>/void", api.ScoreVoidApi.as_view(), name="score-void"),
    path("users/<uuid:user_id>/shadow-ban", api.ShadowBanApi.as_view(), name="shadow-ban"),
    path("moderation/flags", review_api.FlagListApi.as_view(), name="flag-list"),
    path("moderation/flags/<int:flag_id>", review_api.FlagDetailApi.as_view(), name="flag-detail"),
    path("moderation/flags/<int:flag_id>/resolve", review_api.FlagResolveApi.as_view(), name="flag-resolve"),
    path("games/<str:id_or_slug>/sessions", api.MatchSessionApi.as_view(), name="match-session-list"),
]
