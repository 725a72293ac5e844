"""OpenTelemetry tracing, on when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (OTLP over HTTP).

``configure_tracing`` runs in every process that sets Django up (``PodiumConfig.ready``): the WSGI and ASGI
servers' workers, and the Celery worker and beat, whose Django fixup sets Django up before they load the tasks.
It installs the tracer provider once per process and instruments Django (a span per request), the database
(psycopg; SQLite too, for the embedded profile), Redis (rankings index, cache, channel layer) and Celery:
a process that sends a task puts the trace context in the message, and the worker's ``run`` span continues it.

Celery's worker children and beat also call ``configure_celery_process`` from the ``worker_process_init`` and
``beat_init`` signals (``leaderboard_project.celery``), as the Celery instrumentation asks: a pool child forked
after start-up already has everything (the SDK restarts its export thread in a forked child), one started
afresh gets it there.

Podium's own spans come from ``tracer`` below: ``rankings.record``, ``realtime.publish`` and ``tournaments.pay``.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from django.conf import settings
from opentelemetry import trace

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.sdk.trace.sampling import Sampler

logger = logging.getLogger(__name__)

# Podium's own spans. Until a provider is installed this is a no-op tracer that costs next to nothing.
tracer = trace.get_tracer("podium")

_lock = threading.Lock()
_otlp_exporting = False
_instrumented = False


def configure_tracing(exporter: SpanExporter | None = None) -> bool:
    """Install the tracer provider and instrument the libraries, once per process. Returns whether tracing is on.

    Without ``exporter``, spans go in batches to ``OTEL_EXPORTER_OTLP_ENDPOINT`` (tracing stays off when it is
    unset). With one (tests: ``InMemorySpanExporter``), each span is handed to it as soon as it ends. A later
    call adds its exporter to the provider already installed: OpenTelemetry allows one provider per process.
    """
    if exporter is None and not settings.OTEL_EXPORTER_OTLP_ENDPOINT:
        return False
    global _otlp_exporting
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    with _lock:
        provider = _provider()
        if exporter is not None:
            provider.add_span_processor(SimpleSpanProcessor(exporter))
        elif not _otlp_exporting:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            endpoint = settings.OTEL_EXPORTER_OTLP_ENDPOINT.rstrip("/") + "/v1/traces"
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
            _otlp_exporting = True
            logger.info("tracing on: exporting spans to %s", endpoint)
        _instrument()
    return True


def configure_celery_process(**_signal: object) -> None:
    """Receiver of Celery's ``worker_process_init`` and ``beat_init``: makes sure tracing, the Celery
    instrumentation included, is on in this worker child or beat process (when tracing is configured)."""
    configure_tracing()


def _provider() -> TracerProvider:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ParentBased

    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.OTEL_SERVICE_NAME}),
        sampler=ParentBased(root=_no_bare_client_calls()),
    )
    trace.set_tracer_provider(provider)
    return provider


def _no_bare_client_calls() -> Sampler:
    """A sampler for spans that start a trace: every kind but a client call.

    A Redis or database call outside any request, task or span of Podium's is plumbing repeating on its own
    (the Celery worker polling its broker, a WebSocket server reporting its connection count): recorded, it
    would bury the traces worth reading. Inside a trace such calls are kept, as their parent is. (The SDK is
    imported only once tracing is on, hence the class in here.)
    """
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision, Sampler, SamplingResult
    from opentelemetry.trace import SpanKind

    class NoBareClientCalls(Sampler):
        def should_sample(
            self, parent_context, trace_id, name, kind=None, attributes=None, links=None, trace_state=None
        ) -> SamplingResult:
            if kind == SpanKind.CLIENT:
                return SamplingResult(Decision.DROP)
            return ALWAYS_ON.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

        def get_description(self) -> str:
            return "NoBareClientCalls"

    return NoBareClientCalls()


def _instrument() -> None:
    global _instrumented
    if _instrumented:
        return
    import sqlite3

    from opentelemetry.instrumentation import dbapi
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    # Probes and scrapes arrive every few seconds and say nothing a trace would help with.
    DjangoInstrumentor().instrument(excluded_urls="/healthz$,/readyz$,/metrics$")
    PsycopgInstrumentor().instrument()
    # No SQLite instrumentation package: the DB-API integration wraps the driver Django calls (sqlite3.dbapi2).
    dbapi.wrap_connect(__name__, sqlite3.dbapi2, "connect", "sqlite", {"database": "database"})
    RedisInstrumentor().instrument()
    CeleryInstrumentor().instrument()
    _instrumented = True


def uninstrument() -> None:
    """Undo the libraries' instrumentation (tests, so that later tests run without it).

    The provider stays installed (it cannot be replaced), with its exporters; database connections opened
    while instrumented keep tracing until they are closed.
    """
    global _instrumented
    import sqlite3

    from opentelemetry.instrumentation import dbapi
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    with _lock:
        if not _instrumented:
            return
        CeleryInstrumentor().uninstrument()
        RedisInstrumentor().uninstrument()
        dbapi.unwrap_connect(sqlite3.dbapi2, "connect")
        PsycopgInstrumentor().uninstrument()
        DjangoInstrumentor().uninstrument()
        _instrumented = False
