"""``/metrics``: every Prometheus metric of this process, or of all processes under ``PROMETHEUS_MULTIPROC_DIR``.

Who may read it (``METRICS_ALLOWED_IPS``, ``METRICS_TOKEN``):

* a signed-in staff member (their browser session);
* a request that carries ``Authorization: Bearer <METRICS_TOKEN>``;
* a request whose ``REMOTE_ADDR`` is in one of the allowed networks; with neither setting, the machine itself
  (127.0.0.1, ::1), unless Podium is ``BEHIND_TLS_PROXY``: there every request comes from the proxy's address,
  often this very machine, so nobody is let in by address alone.

``DEBUG`` opens nothing.

``X-Forwarded-For`` is never consulted, since any client can write it: a scraper that reaches Podium through the
reverse proxy uses the token (allowing the proxy's own address would open the page to everyone behind it).
Everyone else gets 403 in the API's error shape.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Iterable, Iterator
from functools import lru_cache
from importlib import import_module

from django.conf import settings
from django.contrib.auth import get_user
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from common.errors import error_body
from common.metrics import scrape_collectors

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

LOCALHOST: tuple[Network, ...] = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("::1/128"))


@lru_cache(maxsize=8)
def allowed_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """``METRICS_ALLOWED_IPS`` as networks (a bare address is a network of one)."""
    networks = []
    for entry in filter(None, (entry.strip() for entry in entries)):
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"METRICS_ALLOWED_IPS: {entry!r} is not an IP address or network (e.g. 10.0.0.0/8, ::1)."
            ) from None
    return tuple(networks)


def _address_in(address: str, networks: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # a dual-stack server reports IPv4 clients as ::ffff:a.b.c.d
    return any(ip in network for network in networks)


def _bearer_token(request: HttpRequest) -> str | None:
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _signed_in_staff(request: HttpRequest) -> bool:
    """Whether the request's session is a staff member's. ``/metrics`` is answered before the session and
    authentication middleware (leaderboard_project.health), so the session is looked up here."""
    key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if not key:
        return False
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(key)
    user = get_user(request)
    return user.is_active and user.is_staff


def metrics_allowed(request: HttpRequest) -> bool:
    """Whether this request may read the metrics (rules in the module's docstring)."""
    if _signed_in_staff(request):
        return True
    token = settings.METRICS_TOKEN
    networks = allowed_networks(tuple(settings.METRICS_ALLOWED_IPS))
    given = _bearer_token(request)
    if token and given is not None and hmac.compare_digest(given.encode(), token.encode()):
        return True
    if not (token or networks) and settings.SECURE_PROXY_SSL_HEADER is None:
        networks = LOCALHOST
    return _address_in(request.META.get("REMOTE_ADDR", ""), networks)


class _Collectors(Collector):
    """Several collectors read as one (what ``generate_latest`` takes)."""

    def __init__(self, *collectors: Collector) -> None:
        self.collectors = collectors

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


def metrics_registry() -> Collector:
    """What ``/metrics`` reports: every process's values when several share ``PROMETHEUS_MULTIPROC_DIR``, else
    this process's default registry; and what the apps' scrape collectors read now (the simulator's state)."""
    # prometheus_client itself chose, when first imported, between per-process files and memory by this
    # variable; the page must follow the same variable, so it is read here and not from a setting.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        for collector in scrape_collectors():
            registry.register(collector)
        return registry
    return _Collectors(REGISTRY, *scrape_collectors())


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """The Prometheus text exposition format, to those ``metrics_allowed`` lets in; 403 to anyone else."""
    if not metrics_allowed(request):
        return JsonResponse(
            error_body("permission_denied", "The metrics are not open to this client."),
            status=403,
        )
    return HttpResponse(generate_latest(metrics_registry()), content_type=CONTENT_TYPE_LATEST)
