"""Logs: JSON lines in production, carrying the trace and span of the request or task that logged."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider

from common.logs import TraceContextFilter

PROJECT_DIR = Path(__file__).resolve().parents[2]

# Logs one record outside a span and one inside, through the LOGGING of the settings the environment selects.
_LOG = """
import logging
import django
django.setup()
from opentelemetry.sdk.trace import TracerProvider
tracer = TracerProvider().get_tracer("test")
log = logging.getLogger("podium.test")
log.warning("outside a span")
with tracer.start_as_current_span("work") as span:
    context = span.get_span_context()
    print(format(context.trace_id, "032x"), format(context.span_id, "016x"), flush=True)
    log.warning("inside %s", "a span")
"""


def _log_in_a_process(**env: str) -> tuple[list[str], str, str]:
    """(stderr lines, trace id, span id) of a process that ran ``_LOG`` with these environment variables."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DEBUG", "LOG_FORMAT", "SECRET_KEY", "OTEL_EXPORTER_OTLP_ENDPOINT")
    }
    environment.update({"DJANGO_SETTINGS_MODULE": "leaderboard_project.settings", **env})
    done = subprocess.run(
        [sys.executable, "-c", _LOG], cwd=PROJECT_DIR, env=environment, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    trace_id, span_id = done.stdout.split()
    return [line for line in done.stderr.splitlines() if "podium.test" in line], trace_id, span_id


def test_production_logs_are_json_with_the_current_trace_and_span():
    lines, trace_id, span_id = _log_in_a_process(DEBUG="false", SECRET_KEY="a-production-secret-for-the-test-only")

    outside, inside = (json.loads(line) for line in lines)
    assert inside["message"] == "inside a span"
    assert inside["level"] == "WARNING"
    assert inside["logger"] == "podium.test"
    assert inside["timestamp"]
    assert (inside["trace_id"], inside["span_id"]) == (trace_id, span_id)
    assert outside["message"] == "outside a span"
    assert "trace_id" not in outside and "span_id" not in outside


def test_log_format_plain_forces_plain_lines_in_production():
    lines, _, _ = _log_in_a_process(
        DEBUG="false", SECRET_KEY="a-production-secret-for-the-test-only", LOG_FORMAT="plain"
    )

    assert lines[1].endswith("WARNING podium.test inside a span")


def test_log_format_json_gives_json_while_developing():
    lines, trace_id, _ = _log_in_a_process(DEBUG="true", LOG_FORMAT="json")

    assert json.loads(lines[1])["trace_id"] == trace_id


def test_the_filter_adds_the_ids_of_the_span_current_when_logging():
    record = logging.LogRecord("podium.test", logging.INFO, __file__, 1, "message", None, None)
    tracer = TracerProvider().get_tracer("test")

    with tracer.start_as_current_span("work") as span:
        assert TraceContextFilter().filter(record)

    assert record.trace_id == format(span.get_span_context().trace_id, "032x")
    assert record.span_id == format(span.get_span_context().span_id, "016x")
