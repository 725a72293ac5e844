"""Simulator API: background simulations and stress tests (staff only), and the service's live totals."""
