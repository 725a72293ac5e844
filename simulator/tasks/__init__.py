"""Celery tasks of the simulator (one module per kind of run); imported here so Celery finds them."""

from . import populate, simulations, stress  # noqa: F401
