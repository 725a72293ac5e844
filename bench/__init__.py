"""Benchmarks (DESIGN.md section 10). Each is run as ``python -m bench.<name>``; none is a timed test."""
