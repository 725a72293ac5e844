"""Logging helpers named in ``settings.LOGGING``.

Loaded while Django configures logging, before the apps are ready: nothing here may import a model.
"""

from __future__ import annotations

import logging

from opentelemetry import trace


class TraceContextFilter(logging.Filter):
    """Adds ``trace_id`` and ``span_id`` (hex, as tracing back ends show them) of the current span to a record.

    On the handler, so every record that reaches it gets them, whichever logger made it. Outside a span (or
    with tracing off) the record is left as it is, and the JSON formatter writes no ids.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            record.trace_id = format(context.trace_id, "032x")
            record.span_id = format(context.span_id, "016x")
        return True
