"""``{% demo_controls %}``: the demo controls panel, for staff, on whatever page includes it.

It reads its own state, so the page that shows it (the dashboard) passes
nothing: ``{% include "simulator/_demo_controls.html" %}``.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from .. import selectors
from ..forms import SimulationStartForm
from ..models import RunStatus, Simulation
from ..pages import population_data
from ..services import populations
from ..services.synthetic import synthetic_summary

register = template.Library()


def simulation_data(simulation: Simulation | None, *, alive: bool) -> dict[str, Any] | None:
    """A simulation as the REST API shows it (the script polls that API), plus whether it still reports."""
    if simulation is None:
        return None
    return {
        "id": simulation.pk,
        "status": simulation.status,
        "players": simulation.players,
        "rate": simulation.rate,
        "duration": simulation.duration,
        "scores_submitted": simulation.scores_submitted,
        "tournaments_joined": simulation.tournaments_joined,
        "records": simulation.records,
        "errors": simulation.errors,
        "error": simulation.error,
        "created_at": simulation.created_at.isoformat(),
        "started_at": simulation.started_at.isoformat() if simulation.started_at else None,
        "finished_at": simulation.finished_at.isoformat() if simulation.finished_at else None,
        "alive": alive,
    }


@register.inclusion_tag("simulator/_demo_controls_panel.html", takes_context=True)
def demo_controls(context: template.Context) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if request is None or user is None or not (user.is_authenticated and user.is_active and user.is_staff):
        return {"show": False}
    state = selectors.demo_controls()
    last = state.simulation
    initial = {"players": last.players, "rate": last.rate, "duration": last.duration} if last else None
    simulation_over = last is not None and not state.simulating
    return {
        "show": True,
        "state": state,
        "form": SimulationStartForm(initial=initial),
        "simulation_over": simulation_over,
        "simulation_dead": bool(last and last.active and not state.simulation_alive),
        "population_dead": bool(state.population and state.population.active and not state.population_alive),
        "populate_players": populations.DEFAULT_PLAYERS,
        "synthetic": synthetic_summary(),
        "next": request.get_full_path(),
        "panel_data": {
            "demo": {
                "players": state.demo.players,
                "games": state.demo.games,
                "scores": state.demo.scores,
                "empty": state.demo.empty,
            },
            "population": population_data(state.population),
            "simulation": simulation_data(last, alive=state.simulation_alive or last is None or not last.active),
            "populate_players": populations.DEFAULT_PLAYERS,
            "statuses": dict(RunStatus.choices),
            "urls": {
                "population": reverse("demo-population"),
                "simulations": reverse("simulation-list"),
                "stop": reverse("demo-simulation-stop", args=[0]),
            },
        },
    }
