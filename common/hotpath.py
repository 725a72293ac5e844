"""A short way through the server for the few requests a game sends most, taken only when nothing is unusual.

A board read or a score submission through the whole stack passes thirteen middleware, the URL
resolver and DRF's request cycle (content negotiation, authentication, permission and throttle
checks, a serializer for the query) before any of its own work: several times the work itself.
Apps register *hot routes* here (``routes.add`` from their ``AppConfig.ready``): a method, a path
pattern and a handler that answers the plain, common form of the request and returns None for
anything else (another format, credentials it does not take, a query it does not know, any error),
which then goes through the whole stack as before. A handler answers only when its answer is the
one the full route would give: the same body, status and headers. So nothing is served here that
could not also be served the long way, and every error keeps its one shape.

``HotPathMiddleware`` sits right after the probes. Before a handler runs it does what the skipped
middleware would have done for such a request: the host check, an HTTPS redirect left to the full
stack; afterwards the security headers, the content security policy, ``X-Frame-Options`` and the
per-view Prometheus series of django-prometheus's after middleware, the same series moved the same way
(the request counters and latency are kept by the middleware before it).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from csp.middleware import CSPMiddleware
from django.http import HttpRequest, HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.security import SecurityMiddleware
from django.urls import ResolverMatch, resolve
from django_prometheus.middleware import Metrics
from django_prometheus.utils import Time, TimeSince
from opentelemetry import trace
from prometheus_client.metrics import MetricWrapperBase

Handler = Callable[..., HttpResponse | None]


@dataclass(frozen=True)
class HotRoute:
    method: str
    pattern: re.Pattern[str]
    handler: Handler  # called with the request and the pattern's named groups
    example: str  # a path of this route, resolved once for the view name the metrics carry


class HotRoutes:
    def __init__(self) -> None:
        self.by_method: dict[str, list[HotRoute]] = {}

    def add(self, method: str, pattern: str, handler: Handler, *, example: str) -> None:
        route = HotRoute(method, re.compile(pattern), handler, example)
        self.by_method.setdefault(method, []).append(route)

    def find(self, method: str, path: str) -> tuple[HotRoute, dict[str, str]] | None:
        for route in self.by_method.get(method, ()):
            match = route.pattern.fullmatch(path)
            if match is not None:
                return route, match.groupdict()
        return None


routes = HotRoutes()


@dataclass(frozen=True)
class _Series:
    """The series django-prometheus's after middleware moves for one view's answers of one kind, each looked up
    once: finding a labelled child and building ``request.headers`` were most of that middleware's cost."""

    by_method: MetricWrapperBase
    by_transport: MetricWrapperBase
    by_view_transport_method: MetricWrapperBase
    by_status: MetricWrapperBase
    by_status_view_method: MetricWrapperBase
    by_charset: MetricWrapperBase
    latency: MetricWrapperBase

    @classmethod
    def of(cls, metrics: Metrics, view: str, method: str, transport: str, status: str, charset: str) -> _Series:
        return cls(
            metrics.requests_by_method.labels(method=method),
            metrics.requests_by_transport.labels(transport=transport),
            metrics.requests_by_view_transport_method.labels(view=view, transport=transport, method=method),
            metrics.responses_by_status.labels(status=status),
            metrics.responses_by_status_view_method.labels(status=status, view=view, method=method),
            metrics.responses_by_charset.labels(charset=charset),
            metrics.requests_latency_by_view_method.labels(view=view, method=method),
        )


def _unused(request: HttpRequest) -> HttpResponse:
    raise AssertionError("only the hooks of these middleware are used, never their chain")


class HotPathMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.security = SecurityMiddleware(_unused)
        self.frame = XFrameOptionsMiddleware(_unused)
        self.csp = CSPMiddleware(_unused)
        self.metrics = Metrics.get_instance()
        self.series: dict[tuple[str, str, str, int, str], _Series] = {}
        self.policy: str | None = None
        self.matches: dict[str, ResolverMatch] = {}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        found = routes.find(request.method, request.path_info)
        response = None
        if found is not None and self.security.process_request(request) is None:
            request.get_host()  # the host check every other route gets (DisallowedHost: 400)
            route, arguments = found
            started = Time()
            response = route.handler(request, **arguments)
        if response is None:
            return self.get_response(request)
        return self._finish(request, route, response, started)

    def _finish(self, request: HttpRequest, route: HotRoute, response: HttpResponse, started: float) -> HttpResponse:
        if not response.streaming and "Content-Length" not in response:  # as CommonMiddleware sets it
            response["Content-Length"] = str(len(response.content))
        response = self.security.process_response(request, response)
        response = self.frame.process_response(request, response)
        if self.policy is None:  # the same for every response without a nonce: built once
            self.policy = self.csp.build_policy(request, response)
        if self.policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self.policy
        match = self.matches.get(route.example)
        if match is None:
            match = self.matches[route.example] = resolve(route.example)
        request.resolver_match = match
        span = trace.get_current_span()
        if span.is_recording():  # what the tracing middleware names from the resolved view
            span.set_attribute("http.route", match.route)
            span.update_name(f"{request.method} {match.route}")
        self._count(request, route, match, response, started)
        return response

    def _count(
        self, request: HttpRequest, route: HotRoute, match: ResolverMatch, response: HttpResponse, started: float
    ) -> None:
        """What ``PrometheusAfterMiddleware`` counts of a request and its answer; the view's latency counts from
        before the handler."""
        transport = "https" if request.is_secure() else "http"
        key = (route.example, route.method, transport, response.status_code, response.charset)
        series = self.series.get(key)
        if series is None:
            view = match.view_name or "<unnamed view>"
            series = _Series.of(
                self.metrics, view, route.method, transport, str(response.status_code), response.charset
            )
            self.series[key] = series
        metrics = self.metrics
        series.by_method.inc()
        series.by_transport.inc()
        series.by_view_transport_method.inc()
        if request.META.get("HTTP_X_REQUESTED_WITH") == "XMLHttpRequest":
            metrics.requests_ajax.inc()
        metrics.requests_body_bytes.observe(int(request.META.get("CONTENT_LENGTH") or 0))
        series.by_status.inc()
        series.by_status_view_method.inc()
        series.by_charset.inc()
        if response.streaming:
            metrics.responses_streaming.inc()
        else:
            metrics.responses_body_bytes.observe(len(response.content))
        series.latency.observe(TimeSince(started))
