"""Benchmarks (the performance goals). Each is run as ``python -m bench.<name>``; none is a timed test."""
