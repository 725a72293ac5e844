from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts.pages import sign_in_throttled
from common import errors

from . import health, metrics_view
from .api import ApiRootApi

handler500 = errors.server_error


def favicon(request):
    """Browsers ask for /favicon.ico on pages that name no icon (the admin, the browsable API)."""
    return HttpResponsePermanentRedirect(static("favicon.svg"))


# The browsable API's sign-in (rest_framework.urls), its form throttled as every other sign-in is.
browsable_api_auth = [
    path(
        "login/",
        sign_in_throttled(auth_views.LoginView.as_view(template_name="rest_framework/login.html")),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]

api_v1 = [
    path("", ApiRootApi.as_view(), name="api-root"),
    path("", include("accounts.urls")),
    path("", include("games.urls")),
    path("", include("scores.urls")),
    path("", include("rankings.urls")),
    path("", include("tournaments.urls")),
    path("", include("leagues.urls")),
    path("", include("simulator.urls")),
]

urlpatterns = [
    # Server-rendered pages: each app's own, and those reading several apps (dashboard).
    path("", include("dashboard.pages")),
    path("", include("accounts.pages")),
    path("", include("tournaments.pages")),
    path("", include("leagues.pages")),
    path("", include("simulator.pages")),
    # Pages answer only the methods they serve (OPTIONS, PUT, ... are 405), as the function views say with
    # require_safe / require_http_methods.
    path(
        "accounts/login/",
        sign_in_throttled(auth_views.LoginView.as_view(http_method_names=["get", "head", "post"])),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(http_method_names=["post"]), name="logout"),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/auth/", include((browsable_api_auth, "rest_framework"))),
    path("admin/", admin.site.urls),
    path("favicon.ico", favicon, name="favicon"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view.metrics, name="metrics"),
]
