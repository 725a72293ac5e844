"""The admin site: Django's own, with its sign-in form counted against the API's sign-in limits."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from accounts.pages import sign_in_throttled


class PodiumAdminSite(admin.AdminSite):
    def login(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        return sign_in_throttled(super().login)(request, extra_context)
