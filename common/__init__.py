"""The lowest layer: what every app uses and that imports no app.

Errors, metrics, tracing, rate limits, paging, parsers, shared serializers, the hot-route middleware.
"""
