"""Pages of the simulator (staff only): the stress-test page, one run's report, and the demo controls' forms.

The stress form posts here and calls ``stress_test_start`` as the REST API
does (target: ``STRESS_TARGET_URL``, else this server's own URL); the page's
script then follows the ``stress`` channel. The demo controls live on the
dashboard (``simulator/_demo_controls.html``); their forms post to the views
below, which call the same services as the REST API and redirect back with a
message. ``GET /demo/population/`` is the populate run's state as JSON, which
the controls' script polls while demo data is being created (populate runs
publish no events); a populate posted with ``Accept: application/json`` is
answered in JSON too.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from common.errors import DomainError
from common.pages import page_number, staff_only

from . import selectors
from .forms import SimulationStartForm, StressTestForm
from .models import DemoPopulation, RunStatus
from .services import clear, populations, simulations, stress
from .services.synthetic import synthetic_summary

RUNS_PER_PAGE = 20


def _error_text(error: DomainError) -> str:
    """A service error as one sentence, its field messages included."""
    if not error.fields:
        return error.message
    details = "; ".join(f"{name.replace('_', ' ')}: {' '.join(texts)}" for name, texts in error.fields.items())
    return details if error.message in details else f"{error.message} {details}"


def _stopped(status: str) -> str:
    """What a stop led to, as the end of a sentence."""
    if status == RunStatus.STOPPING:
        return "is stopping"
    if status == RunStatus.STOPPED:
        return "is stopped"
    return f"is over ({RunStatus(status).label.lower()})"


# --- the stress page ------------------------------------------------------------------------


def _target(request: HttpRequest) -> str:
    return stress.stress_target(own_url=request.build_absolute_uri("/"))


@require_http_methods(["GET", "HEAD", "POST"])
@staff_only()
def stress_page(request: HttpRequest) -> HttpResponse:
    """GET: the live figures, the form and the past runs; POST: start a stress test."""
    form = StressTestForm()
    status = 200
    if request.method == "POST":
        form = StressTestForm(request.POST)
        status = 400
        if form.is_valid():
            try:
                run = stress.stress_test_start(started_by=request.user, target=_target(request), **form.cleaned_data)
            except DomainError as error:
                form.add_error(None, _error_text(error))
                status = error.status_code
            else:
                messages.success(
                    request,
                    f"Stress test {run.pk} started: {run.concurrent_users:,} users, "
                    f"{run.actions_per_second:,} actions per second for {run.duration} s.",
                )
                return redirect("stress-page")
    stress.stress_tests_reap()  # a run whose server or worker died shows as over, as the API's reads do
    number = page_number(request)
    runs, total = selectors.stress_runs(offset=(number - 1) * RUNS_PER_PAGE, limit=RUNS_PER_PAGE)
    active = selectors.stress_run_active()
    context = {
        "form": form,
        "active": active,
        "runs": runs,
        "total": total,
        "page_number": number,
        "previous_page": number - 1 if number > 1 else None,
        "next_page": number + 1 if number * RUNS_PER_PAGE < total else None,
        "target": _target(request),
        "synthetic": synthetic_summary(),
        "page_data": {
            "active": _stress_data(active) if active else None,
            "statuses": dict(RunStatus.choices),
            "run_url": reverse("stress-run-page", args=[0]),
            "stop_url": reverse("stress-page-stop", args=[0]),
            "api_url": reverse("stress-test-detail", args=[0]),
        },
    }
    return render(request, "simulator/stress.html", context, status=status)


def _stress_data(active: selectors.StressRun) -> dict[str, Any]:
    run = active.run
    return {
        "id": run.pk,
        "status": run.status,
        "concurrent_users": run.concurrent_users,
        "actions_per_second": run.actions_per_second,
        "duration": run.duration,
        "figures": active.figures,
    }


@require_POST
@staff_only(login_next="stress-page")
def stress_stop_page(request: HttpRequest, stress_test_id: int) -> HttpResponse:
    found = selectors.stress_run_get(stress_test_id=stress_test_id)
    if found is None:
        raise Http404("No such stress test.")
    if found.over:
        messages.info(
            request, f"Stress test {found.run.pk} is over already ({found.run.get_status_display().lower()})."
        )
        return redirect("stress-page")
    run = stress.stress_test_stop(stress_test=found.run)
    if run.status == RunStatus.STOPPING:
        messages.info(request, f"Stress test {run.pk} is stopping; its partial report follows in a moment.")
    else:
        messages.success(request, f"Stress test {run.pk} {_stopped(run.status)}.")
    return redirect("stress-page")


@require_GET
@staff_only()
def stress_run_page(request: HttpRequest, stress_test_id: int) -> HttpResponse:
    found = selectors.stress_run_get(stress_test_id=stress_test_id)
    if found is None:
        raise Http404("No such stress test.")
    report = found.run.report or {}
    context = {
        "found": found,
        "run": found.run,
        "report": report,
        "plan": report.get("plan") or {},
        "endpoints": report.get("endpoints") or [],
        "errors": report.get("errors") or [],
    }
    return render(request, "simulator/stress_run.html", context)


# --- the demo controls ----------------------------------------------------------------------


def _back(request: HttpRequest) -> HttpResponseRedirect:
    """To the page the controls were on (``next``), else the dashboard, at the controls."""
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False):
        target = reverse("home")
    return HttpResponseRedirect(f"{target.split('#')[0]}#demo-controls")


def _wants_json(request: HttpRequest) -> bool:
    return request.headers.get("Accept", "").startswith("application/json")


def population_data(population: DemoPopulation | None) -> dict[str, Any] | None:
    if population is None:
        return None
    progress = selectors.population_progress(population)
    return {
        "id": population.pk,
        "status": population.status,
        "active": bool(population.active),
        "alive": population.active is None or selectors.population_alive(population),
        "created": population.created,
        "summary": population.summary,
        "seconds": population.seconds,
        "error": population.error,
        "progress": {key: progress[key] for key in ("step", "done", "total")} if progress else None,
        "finished_at": population.finished_at.isoformat() if population.finished_at else None,
    }


def _population_state() -> dict[str, Any]:
    state = selectors.demo_controls()
    demo = state.demo
    return {
        "demo": {"players": demo.players, "games": demo.games, "scores": demo.scores, "empty": demo.empty},
        "population": population_data(state.population),
    }


@require_http_methods(["GET", "HEAD", "POST"])
@staff_only(login_next="home")
def population_page(request: HttpRequest) -> HttpResponse:
    """GET: the demo data and the latest populate run, as JSON. POST: create the demo data in the background."""
    if request.method != "POST":
        populations.populations_reap()  # a run whose server died shows as over, as the API's reads do
        return JsonResponse(_population_state())
    try:
        population = populations.population_start(started_by=request.user)
    except DomainError as error:
        if _wants_json(request):
            return JsonResponse({"error": {"code": error.code, "message": error.message}}, status=error.status_code)
        messages.error(request, error.message)
    else:
        if _wants_json(request):
            return JsonResponse(_population_state(), status=202)
        messages.success(
            request,
            f"Creating demo data in the background: {population.players:,} players and their scores "
            "(about ten seconds).",
        )
    return _back(request)


@require_POST
@staff_only(login_next="home")
def simulation_start_page(request: HttpRequest) -> HttpResponse:
    form = SimulationStartForm(request.POST)
    if not form.is_valid():
        problems = "; ".join(
            f"{form.fields[name].label.lower()}: {' '.join(errors)}" for name, errors in form.errors.items()
        )
        messages.error(request, f"The simulation did not start. {problems}")
        return _back(request)
    try:
        simulation = simulations.simulation_start(started_by=request.user, **form.cleaned_data)
    except DomainError as error:
        messages.error(request, f"The simulation did not start. {_error_text(error)}")
    else:
        messages.success(
            request,
            f"Simulation {simulation.pk} started: {simulation.players:,} players, about {simulation.rate:g} scores "
            f"per second for {simulation.duration} s.",
        )
    return _back(request)


@require_POST
@staff_only(login_next="home")
def simulation_stop_page(request: HttpRequest, simulation_id: int) -> HttpResponse:
    simulation = selectors.simulation_get(simulation_id=simulation_id)
    if simulation is None:
        raise Http404("No such simulation.")
    if simulation.active is None:
        status = simulation.get_status_display().lower()
        messages.info(request, f"Simulation {simulation.pk} is over already ({status}).")
        return _back(request)
    simulation = simulations.simulation_stop(simulation=simulation)
    messages.success(request, f"Simulation {simulation.pk} {_stopped(simulation.status)}.")
    return _back(request)


@require_POST
@staff_only(login_next="stress-page")
def synthetic_clear_page(request: HttpRequest) -> HttpResponse:
    """Remove what load runs wrote (synthetic players and games), then back to the page the button was on."""
    try:
        removed = clear.synthetic_delete()
    except DomainError as error:
        messages.error(request, f"Nothing was removed. {_error_text(error)}")
    else:
        if removed.empty:
            messages.info(request, "There was no load-test data to remove.")
        else:
            messages.success(
                request,
                f"Removed the load-test data: {removed.players:,} synthetic players, {removed.games} games, "
                f"{removed.scores:,} scores and {removed.tournaments} tournaments. The real boards are as they were.",
            )
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False):
        target = reverse("stress-page")
    return HttpResponseRedirect(target)


urlpatterns = [
    path("stress/", stress_page, name="stress-page"),
    path("load-data/clear", synthetic_clear_page, name="synthetic-clear"),
    path("stress/<int:stress_test_id>/", stress_run_page, name="stress-run-page"),
    path("stress/<int:stress_test_id>/stop", stress_stop_page, name="stress-page-stop"),
    path("demo/population/", population_page, name="demo-population"),
    path("demo/simulations/", simulation_start_page, name="demo-simulation-start"),
    path("demo/simulations/<int:simulation_id>/stop", simulation_stop_page, name="demo-simulation-stop"),
]
