"""Celery tasks for this kind of simulator run."""
