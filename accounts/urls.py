from django.urls import path

from . import api

urlpatterns = [
    path("users/register", api.RegisterApi.as_view(), name="user-register"),
    path("users/login", api.LoginApi.as_view(), name="user-login"),
    path("users/token/refresh", api.TokenRefreshApi.as_view(), name="token-refresh"),
    path("users/logout", api.LogoutApi.as_view(), name="user-logout"),
    path("users/me", api.MeApi.as_view(), name="user-me"),
    path("users/me/credits", api.MeCreditsApi.as_view(), name="user-me-credits"),
]
