"""Writes of the simulator: demo data (populate), simulations, stress tests. One module each."""
