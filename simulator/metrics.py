"""The simulator's gauge on ``/metrics``, read from the database at each scrape."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from django.db import DatabaseError
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from . import selectors

logger = logging.getLogger(__name__)


class SimulatorCollector(Collector):
    """``podium_simulator_active{kind}``: 1 while a simulation, stress test or demo population is starting,
    running or stopping, else 0, read from the database at each scrape.

    Kept out of the default registry: ``/metrics`` adds it to what it collects, so no other reader of the
    registry queries the database. When the database does not answer, the metric is left out of that scrape
    rather than failing the whole page.
    """

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            active = selectors.simulator_active()
        except DatabaseError:
            logger.warning("could not read the simulator's state for /metrics", exc_info=True)
            return
        family = GaugeMetricFamily(
            "podium_simulator_active",
            "1 while a background run of this kind (simulation, stress_test, population) is starting, running or"
            " stopping, else 0.",
            labels=["kind"],
        )
        for kind, running in active.items():
            family.add_metric([kind], 1.0 if running else 0.0)
        yield family
