"""Pages of players: a player's profile, and registration."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_http_methods

from . import services
from .forms import RegisterForm
from .throttles import throttle_wait


def sign_in_throttled(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A sign-in form's posts count against the API's sign-in limits; over them, a 429 page with Retry-After."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "POST":
            wait = throttle_wait(request, "login")
            if wait is not None:
                seconds = int(wait) + 1
                response = render(request, "registration/throttled.html", {"seconds": seconds}, status=429)
                response["Retry-After"] = str(seconds)
                return response
        return view(request, *args, **kwargs)

    return wrapped


@require_http_methods(["GET", "HEAD", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("player-page", username=request.user.username)
    form = RegisterForm(request.POST or None)
    status = 200
    if request.method == "POST":
        wait = throttle_wait(request, "register")
        if wait is not None:
            form.is_valid()
            form.add_error(None, f"Too many registrations from here. Try again in {int(wait) + 1} seconds.")
            status = 429
        elif form.is_valid():
            data = form.cleaned_data
            try:
                user = services.user_register(
                    username=data["username"],
                    email=data["email"],
                    password=data["password"],
                    display_name=data["display_name"],
                    country=data["country"],
                )
            except services.AccountInvalid as error:
                # The form's fields carry the service's names; anything else is an error of the whole form.
                for name, errors in (error.fields or {None: [error.message]}).items():
                    form.add_error(name if name in form.fields else None, errors)
            else:
                login(request, user)
                messages.success(request, f"Welcome to Podium, {user.public_name}! This is your player page.")
                return redirect("player-page", username=user.username)
    return render(request, "accounts/register.html", {"form": form}, status=status)


urlpatterns = [
    path("accounts/register/", register, name="register"),
]
