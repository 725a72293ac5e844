"""OpenTelemetry tracing, on when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (OTLP over HTTP)."""

from __future__ import annotations

import logging

from django.conf import settings

logger = logging.getLogger(__name__)

_configured = False


def configure_tracing() -> bool:
    """Install the tracer provider and instrument Django once per process. Returns whether tracing is on."""
    global _configured
    if not settings.OTEL_EXPORTER_OTLP_ENDPOINT:
        return False
    if _configured:
        return True
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": settings.OTEL_SERVICE_NAME}))
    endpoint = settings.OTEL_EXPORTER_OTLP_ENDPOINT.rstrip("/") + "/v1/traces"
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    DjangoInstrumentor().instrument()
    _configured = True
    logger.info("tracing on: exporting spans to %s", endpoint)
    return True
