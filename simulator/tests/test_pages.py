"""The stress page and the demo controls: staff only, forms and their errors, conflicts as messages, the past runs;
then in Chromium, a real stress run streaming its figures and the controls driving a simulation and a populate."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages import get_messages
from django.template import RequestContext, Template
from django.test import Client, RequestFactory
from django.utils import timezone

from accounts.tests.factories import UserFactory
from games.tests.factories import GameFactory
from leaderboard_project.tests.browser import sign_in
from simulator import selectors
from simulator.models import DemoPopulation, RunStatus, Simulation, StressTest
from simulator.selectors import DEMO_MARK
from simulator.services import populations, simulations, stress

STRESS = "/stress/"
POPULATE = "/demo/population/"
START = "/demo/simulations/"
VALID_STRESS = {"concurrent_users": "5", "actions_per_second": "10", "duration": "30"}
VALID_SIMULATION = {"players": "20", "rate": "5", "duration": "60"}


def client_of(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def panel(user) -> str:
    """The demo controls as the dashboard renders them: an include, with nothing from the page's own context."""
    request = RequestFactory().get("/?period=daily")
    request.user = user
    return Template('{% include "simulator/_demo_controls.html" %}').render(RequestContext(request, {}))


@pytest.fixture
def no_dispatch(monkeypatch):
    """Runs are recorded, not run: stress tests, simulations and populates are handed to this list."""
    started: list[int] = []
    for module in (stress, simulations, populations):
        monkeypatch.setattr(module, "_dispatch", started.append)
    return started


def stress_run(status=RunStatus.FINISHED, report=None, **fields) -> StressTest:
    over = status not in (RunStatus.PENDING, RunStatus.RUNNING, RunStatus.STOPPING)
    defaults = {"concurrent_users": 5, "actions_per_second": 10, "duration": 30, "target": "http://testserver"}
    defaults.update(started_at=timezone.now() - timedelta(seconds=40), finished_at=timezone.now() if over else None)
    return StressTest.objects.create(
        status=status, active=None if over else True, report=report or {}, **{**defaults, **fields}
    )


FINISHED_REPORT = {"requests": 1234, "failures": 5, "rps": 41.26, "p50_ms": 12, "p95_ms": 48, "users": 5}


# --- who may see and post ------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", [STRESS, "/stress/1/", POPULATE])
def test_anonymous_visitors_are_sent_to_sign_in(path):
    response = client_of(None).get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.django_db
@pytest.mark.parametrize("path", [STRESS, "/stress/1/", POPULATE])
def test_players_who_are_not_staff_get_403(user, path):
    assert client_of(user).get(path).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "body"),
    [
        (STRESS, VALID_STRESS),
        ("/stress/1/stop", {}),
        (POPULATE, {}),
        (START, VALID_SIMULATION),
        ("/demo/simulations/1/stop", {}),
    ],
)
def test_the_control_posts_are_staff_only(user, no_dispatch, path, body):
    anonymous = client_of(None).post(path, body)
    player = client_of(user).post(path, body)

    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    assert player.status_code == 403
    assert not (StressTest.objects.exists() or Simulation.objects.exists() or DemoPopulation.objects.exists())
    assert no_dispatch == []


@pytest.mark.django_db
def test_the_demo_controls_show_to_staff_only(staff, user):
    assert "Demo controls" in panel(staff)
    assert panel(user).strip() == ""
    assert panel(AnonymousUser()).strip() == ""


@pytest.mark.django_db
def test_the_dashboard_shows_the_demo_controls_to_staff(staff, user):
    assert 'id="demo-controls"' in client_of(staff).get("/").content.decode()
    assert 'id="demo-controls"' not in client_of(user).get("/").content.decode()


# --- the stress page -----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_stress_page_shows_the_form_and_that_nothing_ran_yet(staff):
    response = client_of(staff).get(STRESS)

    html = response.content.decode()
    assert response.status_code == 200
    for name in ("concurrent_users", "actions_per_second", "duration"):
        assert f'name="{name}"' in html
    assert 'min="1" max="1000"' in html and 'min="10" max="600"' in html
    assert "No stress test has run yet." in html
    assert "No stress test is running." in html
    assert "vendor/chart.js/chart.umd.min.js" in html and "js/stress.js" in html
    assert "<script>" not in html and " style=" not in html  # no inline script or style


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("concurrent_users", "0", "greater than or equal to 1"),
        ("concurrent_users", "1001", "less than or equal to 1000"),
        ("actions_per_second", "0", "greater than or equal to 1"),
        ("actions_per_second", "1001", "less than or equal to 1000"),
        ("duration", "9", "greater than or equal to 10"),
        ("duration", "601", "less than or equal to 600"),
        ("duration", "soon", "Enter a whole number"),
        ("concurrent_users", "", "This field is required"),
    ],
)
def test_the_stress_form_shows_its_errors_on_the_page(staff, no_dispatch, field, value, error):
    response = client_of(staff).post(STRESS, {**VALID_STRESS, field: value})

    assert response.status_code == 400
    html = response.content.decode()
    assert 'class="errorlist' in html and error in html
    assert f'value="{value}"' in html or not value  # the input is kept
    assert not StressTest.objects.exists() and no_dispatch == []


@pytest.mark.django_db
def test_the_stress_form_starts_a_run_against_the_stress_target_url(staff, no_dispatch, settings):
    settings.STRESS_TARGET_URL = "http://127.0.0.1:9000"

    response = client_of(staff).post(STRESS, VALID_STRESS)

    assert (response.status_code, response["Location"]) == (302, STRESS)
    run = StressTest.objects.get()
    assert (run.concurrent_users, run.actions_per_second, run.duration) == (5, 10, 30)
    assert (run.target, run.started_by, run.status) == ("http://127.0.0.1:9000", staff, RunStatus.PENDING)
    assert messages_of(response) == [f"Stress test {run.pk} started: 5 users, 10 actions per second for 30 s."]


@pytest.mark.django_db
def test_without_a_stress_target_url_the_run_targets_this_server(staff, no_dispatch, settings):
    settings.STRESS_TARGET_URL = ""
    client_of(staff).post(STRESS, VALID_STRESS)
    assert StressTest.objects.get().target == "http://testserver"


@pytest.mark.django_db
def test_a_second_stress_test_is_a_message_on_the_page_not_a_500(staff, no_dispatch):
    running = stress_run(RunStatus.RUNNING, report={"updated_at": timezone.now().isoformat()})

    response = client_of(staff).post(STRESS, VALID_STRESS)

    assert response.status_code == 409
    html = response.content.decode()
    assert f"Stress test {running.pk} is running; stop it first." in html
    assert StressTest.objects.count() == 1


@pytest.mark.django_db
def test_a_running_test_shows_live_figures_a_stop_button_and_a_disabled_start(staff):
    live = {"users": 5, "requests": 321, "failures": 2, "rps": 12.5, "p50_ms": 9, "p95_ms": 30, "elapsed": 12.3}
    run = stress_run(RunStatus.RUNNING, report={"live": live, "updated_at": timezone.now().isoformat()})

    html = client_of(staff).get(STRESS).content.decode()

    assert f'data-live-run data-run-id="{run.pk}"' in html
    assert '<span class="value" data-figure="requests">321</span>' in html
    assert '<span class="value" data-figure="rps">12.5</span>' in html
    assert f'action="/stress/{run.pk}/stop"' in html and "Stop stress test" in html
    assert re.search(r"<button type=\"submit\" disabled data-start>", html)
    assert "12 s elapsed" in html


@pytest.mark.django_db
def test_a_run_whose_runner_died_shows_as_failed_not_running(staff):
    long_ago = timezone.now() - timedelta(seconds=stress.STALE_SECONDS + 5)
    dead = stress_run(RunStatus.RUNNING, created_at=long_ago, started_at=long_ago)

    html = client_of(staff).get(STRESS).content.decode()

    assert "No stress test is running." in html
    assert '<span class="badge failed" data-cell="status">Failed</span>' in html
    dead.refresh_from_db()
    assert dead.active is None


@pytest.mark.django_db
def test_the_past_runs_list_their_parameters_and_figures_and_link_to_their_report(staff):
    done = stress_run(report=FINISHED_REPORT, concurrent_users=200, actions_per_second=100, duration=60)
    failed = stress_run(RunStatus.FAILED, error="locust reported nothing.")
    stopped = stress_run(RunStatus.STOPPED, report={**FINISHED_REPORT, "requests": 10, "partial": True})

    html = client_of(staff).get(STRESS).content.decode()

    rows = re.findall(r'<tr data-run-id="(\d+)">', html)
    assert rows == [str(stopped.pk), str(failed.pk), str(done.pk)]  # newest first
    assert "<span data-runs-total>3</span>" in html
    assert f'href="/stress/{done.pk}/"' in html
    assert '<span class="badge finished" data-cell="status">Finished</span>' in html
    assert '<span class="badge failed" data-cell="status">Failed</span>' in html
    assert '<span class="badge stopped" data-cell="status">Stopped early</span>' in html
    assert "200 users · 100/s · 60 s" in html
    assert 'data-cell="requests">1,234</td>' in html and 'data-cell="rps">41.3</td>' in html
    assert 'data-cell="latency">12 / 48</td>' in html
    assert 'data-cell="requests">—</td>' in html  # the failed run has no figures


@pytest.mark.django_db
def test_the_past_runs_are_paged(staff):
    for _ in range(23):
        stress_run()
    client = client_of(staff)

    first = client.get(STRESS).content.decode()
    second = client.get(STRESS, {"page": "2"}).content.decode()

    assert first.count("<tr data-run-id=") == 20 and 'href="?page=2"' in first
    assert second.count("<tr data-run-id=") == 3 and 'href="?page=1"' in second
    assert client.get(STRESS, {"page": "nope"}).status_code == 200


@pytest.mark.django_db
def test_a_run_report_page_shows_totals_endpoints_and_errors(staff):
    report = {
        **FINISHED_REPORT,
        "p99_ms": 80,
        "max_ms": 120.5,
        "partial": False,
        "plan": {"players": 4, "spectators": 1, "throughput": 2.5},
        "endpoints": [
            {
                "method": "POST",
                "name": "/api/v1/scores",
                "requests": 1000,
                "failures": 5,
                "rps": 33.3,
                "avg_ms": 14.2,
                "p50_ms": 12,
                "p95_ms": 50,
                "p99_ms": 81,
                "max_ms": 120.5,
            },
        ],
        "errors": [{"method": "POST", "name": "/api/v1/scores", "error": "HTTP 429", "occurrences": 5}],
    }
    run = stress_run(report=report)
    client = client_of(staff)

    html = client.get(f"/stress/{run.pk}/").content.decode()

    assert f"Stress test #{run.pk}" in html and "Finished" in html
    assert "4 players, 1 spectators" in html
    assert "/api/v1/scores" in html and "HTTP 429" in html and "1,234" in html
    assert f'href="/api/v1/simulator/stress-tests/{run.pk}"' in html
    assert client.get(f"/stress/{run.pk + 1}/").status_code == 404


@pytest.mark.django_db
def test_the_stop_button_stops_a_pending_run(staff):
    run = stress_run(RunStatus.PENDING)

    response = client_of(staff).post(f"/stress/{run.pk}/stop")

    assert (response.status_code, response["Location"]) == (302, STRESS)
    run.refresh_from_db()
    assert (run.status, run.active) == (RunStatus.STOPPED, None)
    assert messages_of(response) == [f"Stress test {run.pk} is stopped."]
    assert client_of(staff).post(f"/stress/{run.pk + 1}/stop").status_code == 404


@pytest.mark.django_db
def test_stopping_a_finished_run_says_so(staff):
    run = stress_run(report=FINISHED_REPORT)
    response = client_of(staff).post(f"/stress/{run.pk}/stop")
    assert messages_of(response) == [f"Stress test {run.pk} is over already (finished)."]


# --- the demo controls -----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_controls_say_when_there_is_no_demo_data_and_nothing_ran(staff):
    html = panel(staff)

    assert "No demo data yet" in html
    assert "No simulation has run yet." in html
    assert re.search(r"<button type=\"submit\">Populate demo data</button>", html)
    assert re.search(r"<button type=\"submit\" data-start>Start simulation</button>", html)
    assert re.search(r"class=\"danger\" disabled data-stop>Stop simulation</button>", html)
    assert 'name="next" value="/?period=daily"' in html  # back to the page the controls are on
    assert 'value="100"' in html and 'value="20"' in html and 'value="60"' in html  # the API's defaults


@pytest.mark.django_db
def test_the_controls_show_the_demo_data_and_disable_populate(staff):
    game = GameFactory(rules={"demo": DEMO_MARK})
    from scores.models import Score

    Score.objects.bulk_create([Score(user=staff, game=game, value=n) for n in range(3)])

    html = panel(staff)

    assert "<strong>0</strong> players / <strong>3</strong> scores in 1 games." in html
    assert re.search(r"<button type=\"submit\" disabled>Populate demo data</button>", html)


@pytest.mark.django_db
def test_the_controls_show_a_populate_in_progress(staff):
    run = DemoPopulation.objects.create(players=2000, games=3, status=RunStatus.RUNNING, started_at=timezone.now())
    populations._stamp(run.pk, "scores", 20_000, 40_000)

    html = panel(staff)

    assert "Populating…" in html and "Creating demo data… scores 20,000 / 40,000" in html
    assert re.search(r"<button type=\"submit\" disabled>Populate demo data</button>", html)


@pytest.mark.django_db
def test_the_controls_show_a_running_simulation_with_its_counters(staff):
    run = Simulation.objects.create(
        players=50, rate=10, duration=120, status=RunStatus.RUNNING, started_at=timezone.now(), scores_submitted=1234
    )

    html = panel(staff)

    assert f"Simulation {run.pk}: 50 players, about 10 scores/s for 120 s." in html
    assert '<span class="value" data-counter="scores_submitted">1,234</span>' in html
    assert f'action="/demo/simulations/{run.pk}/stop"' in html
    assert re.search(r"<button type=\"submit\" disabled data-start>", html)
    assert re.search(r"class=\"danger\" data-stop>Stop simulation</button>", html)
    assert 'value="50"' in html  # the form starts from the last run's parameters


@pytest.mark.django_db
def test_the_controls_show_the_last_runs_outcome(staff):
    Simulation.objects.create(
        players=5,
        rate=1,
        duration=10,
        status=RunStatus.STOPPED,
        active=None,
        finished_at=timezone.now(),
        scores_submitted=7,
    )
    DemoPopulation.objects.create(
        players=2, games=1, status=RunStatus.FAILED, active=None, finished_at=timezone.now(), error="the disk is full"
    )

    html = panel(staff)

    assert re.search(r"Last run: simulation \d+ stopped early at \d\d:\d\d:\d\d UTC\.", html)
    assert "Last populate failed: the disk is full" in html


@pytest.mark.django_db
def test_a_simulation_that_stopped_reporting_is_not_shown_running(staff):
    long_ago = timezone.now() - timedelta(minutes=5)
    run = Simulation.objects.create(
        players=5, rate=1, duration=600, status=RunStatus.RUNNING, created_at=long_ago, started_at=long_ago
    )

    state = selectors.demo_controls()
    html = panel(staff)

    assert not state.simulating
    assert f"Simulation {run.pk} stopped reporting" in html
    assert re.search(r"<button type=\"submit\" data-start>Start simulation</button>", html)


@pytest.mark.django_db
def test_start_simulation_from_the_controls(staff, no_dispatch):
    GameFactory()

    response = client_of(staff).post(START, {**VALID_SIMULATION, "next": "/?period=daily"})

    assert (response.status_code, response["Location"]) == (302, "/?period=daily#demo-controls")
    run = Simulation.objects.get()
    assert (run.players, run.rate, run.duration, run.started_by) == (20, 5.0, 60, staff)
    assert messages_of(response) == [f"Simulation {run.pk} started: 20 players, about 5 scores per second for 60 s."]


@pytest.mark.django_db
def test_a_foreign_next_falls_back_to_the_dashboard(staff, no_dispatch):
    GameFactory()
    response = client_of(staff).post(START, {**VALID_SIMULATION, "next": "https://example.com/"})
    assert response["Location"] == "/#demo-controls"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"players": "0"}, "players: Ensure this value is greater than or equal to 1."),
        ({"rate": "lots"}, "scores / s: Enter a number."),
        ({"duration": "3601"}, "seconds: Ensure this value is less than or equal to 3600."),
        ({"players": "1", "rate": "100"}, "use at least"),  # more than one player can carry
    ],
)
def test_a_bad_simulation_is_a_message_not_a_500(staff, no_dispatch, body, says):
    GameFactory()

    response = client_of(staff).post(START, {**VALID_SIMULATION, **body})

    assert response.status_code == 302
    [message] = messages_of(response)
    assert message.startswith("The simulation did not start.") and says in message
    assert not Simulation.objects.exists()


@pytest.mark.django_db
def test_a_second_simulation_is_a_conflict_message(staff, no_dispatch):
    GameFactory()
    running = Simulation.objects.create(
        players=5, rate=1, duration=60, status=RunStatus.RUNNING, started_at=timezone.now()
    )

    response = client_of(staff).post(START, VALID_SIMULATION)

    assert response.status_code == 302
    assert messages_of(response) == [
        f"The simulation did not start. Simulation {running.pk} is running; stop it first."
    ]
    assert Simulation.objects.count() == 1


@pytest.mark.django_db
def test_stop_simulation_from_the_controls(staff):
    pending = Simulation.objects.create(players=5, rate=1, duration=60)
    client = client_of(staff)

    response = client.post(f"/demo/simulations/{pending.pk}/stop")
    again = client.post(f"/demo/simulations/{pending.pk}/stop")

    assert response["Location"] == "/#demo-controls"
    pending.refresh_from_db()
    assert (pending.status, pending.active) == (RunStatus.STOPPED, None)
    assert messages_of(response) == [f"Simulation {pending.pk} is stopped."]
    assert messages_of(again)[-1] == f"Simulation {pending.pk} is over already (stopped early)."
    assert client.post(f"/demo/simulations/{pending.pk + 1}/stop").status_code == 404


@pytest.mark.django_db
def test_stopping_a_running_simulation_asks_it_to_stop(staff):
    running = Simulation.objects.create(
        players=5, rate=1, duration=60, status=RunStatus.RUNNING, started_at=timezone.now()
    )
    response = client_of(staff).post(f"/demo/simulations/{running.pk}/stop")
    running.refresh_from_db()
    assert running.status == RunStatus.STOPPING
    assert messages_of(response) == [f"Simulation {running.pk} is stopping."]


@pytest.mark.django_db
def test_populate_from_the_controls_starts_a_background_run(staff, no_dispatch, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_of(staff).post(POPULATE, {"next": "/"})

    assert response["Location"] == "/#demo-controls"
    run = DemoPopulation.objects.get()
    assert (run.status, run.started_by, run.players) == (RunStatus.PENDING, staff, 2000)
    assert no_dispatch == [run.pk]
    assert messages_of(response)[0].startswith("Creating demo data in the background: 2,000 players")


@pytest.mark.django_db
def test_populate_is_refused_while_one_runs(staff, no_dispatch):
    running = DemoPopulation.objects.create(players=2000, games=3, status=RunStatus.RUNNING, started_at=timezone.now())

    response = client_of(staff).post(POPULATE)

    assert messages_of(response) == [f"Demo data is being created (run {running.pk}); wait for it to finish."]
    assert DemoPopulation.objects.count() == 1


@pytest.mark.django_db
def test_populate_does_nothing_when_demo_data_exists(staff, no_dispatch):
    GameFactory(rules={"demo": DEMO_MARK})

    response = client_of(staff).post(POPULATE)

    assert messages_of(response) == ["Demo data exists already (0 players, 0 scores); nothing to do."]
    assert not DemoPopulation.objects.exists()


@pytest.mark.django_db
def test_populate_answers_json_to_the_controls_script(staff, no_dispatch):
    client = client_of(staff)

    started = client.post(POPULATE, HTTP_ACCEPT="application/json")
    refused = client.post(POPULATE, HTTP_ACCEPT="application/json")
    state = client.get(POPULATE)

    assert started.status_code == 202
    assert started.json()["population"]["status"] == "pending"
    assert started.json()["demo"] == {"players": 0, "games": 0, "scores": 0, "empty": True}
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "population_running")
    assert state.json()["population"]["id"] == started.json()["population"]["id"]


# --- selectors -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_stress_figures_are_the_totals_once_over_and_the_live_figures_while_running():
    live = {"users": 3, "requests": 10, "failures": 0, "rps": 2.0, "p50_ms": 5, "p95_ms": 9, "elapsed": 4.0}
    running = stress_run(RunStatus.RUNNING, report={"live": live, "plan": {"players": 3}})
    done = stress_run(report={**FINISHED_REPORT, "endpoints": []})

    assert selectors.stress_figures(running) == live
    assert selectors.stress_figures(done) == {k: FINISHED_REPORT[k] for k in selectors.STRESS_FIGURES}
    assert selectors.stress_figures(stress_run(RunStatus.FAILED)) == {}
    assert selectors.stress_run_active().run == running


# --- in Chromium -------------------------------------------------------------------------------


@pytest.fixture
def background_runs(settings):
    """Runs start in a thread of the server, as embedded, whatever the profile; every run is over after the test."""
    settings.SIMULATION_IN_PROCESS = True
    yield
    for run in StressTest.objects.filter(active=True):
        stress.stress_test_stop(stress_test=run, wait=0)
    for run in Simulation.objects.filter(active=True):
        simulations.simulation_stop(simulation=run)
    for thread in threading.enumerate():
        if thread.name.startswith(("podium-stresstest-", "podium-simulation-", "podium-demopopulation-")):
            thread.join(timeout=30)


def _staff_tab(page, site):
    staff = UserFactory(is_staff=True)
    sign_in(page, site, staff)
    return staff


def _wait_live(page):
    page.wait_for_selector('html[data-live="live"]', state="attached")


@pytest.mark.django_db(transaction=True)
def test_a_short_real_stress_run_from_the_page_streams_its_figures_and_lands_in_the_past_runs(
    page, site, background_runs, settings
):
    settings.STRESS_TARGET_URL = site.url
    GameFactory(), GameFactory()
    _staff_tab(page, site)
    page.goto(site(STRESS))
    _wait_live(page)

    page.fill("#id_concurrent_users", "3")
    page.fill("#id_actions_per_second", "10")
    page.fill("#id_duration", "10")
    page.click("button[data-start]")

    page.wait_for_selector(".messages >> text=started: 3 users, 10 actions per second for 10 s")
    run = StressTest.objects.get()
    _wait_live(page)
    # Live: the tiles and both charts follow stress.progress without a reload.
    page.wait_for_function(
        "() => Number(document.querySelector('[data-figure=requests]').textContent.replace(/,/g, '')) > 0",
        timeout=30_000,
    )
    assert page.locator("[data-run-status]").inner_text() == "Running"
    assert page.locator("[data-stop-form]").is_visible() and page.locator("button[data-start]").is_disabled()
    page.wait_for_function("() => Chart.getChart('chart-throughput').data.datasets[0].data.length >= 2", timeout=10_000)
    assert page.evaluate("Chart.getChart('chart-latency').data.datasets[1].data.length") >= 2
    # Over: the run's row turns Finished with its totals, and the form is ready for the next one.
    row = page.locator(f'tr[data-run-id="{run.pk}"]')
    row.locator('[data-cell="status"]', has_text="Finished").wait_for(timeout=45_000)
    run.refresh_from_db()
    assert run.status == RunStatus.FINISHED and run.report["requests"] > 0
    assert row.locator('[data-cell="requests"]').inner_text() == f"{run.report['requests']:,}"
    assert row.locator('[data-cell="finished"] time').count() == 1
    assert page.locator("[data-run-status]").inner_text() == "Finished"
    assert not page.locator("[data-stop-form]").is_visible() and page.locator("button[data-start]").is_enabled()
    row.locator('[data-cell="link"]').click()
    page.wait_for_selector(f"h1 >> text=Stress test #{run.pk}")
    assert page.locator("table.endpoints tbody tr").count() >= 2


@pytest.mark.django_db(transaction=True)
def test_the_stress_page_follows_a_run_from_its_events_without_a_reload(page, site):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    from events.bus import publish

    _staff_tab(page, site)
    page.goto(site(STRESS))
    _wait_live(page)
    assert page.locator("[data-run-status]").inner_text() == "Idle"
    run = stress_run(RunStatus.RUNNING, report={"updated_at": timezone.now().isoformat()}, concurrent_users=40)
    started = {"id": run.pk, "concurrent_users": 40, "actions_per_second": 10, "duration": 30}

    # The page subscribes once its socket is open; a run announces itself until the page has heard it.
    for _ in range(20):
        publish("stress", "stress.started", started)
        try:
            page.locator("[data-run-status]", has_text="Running").wait_for(timeout=250)
            break
        except PlaywrightTimeout:
            continue
    assert page.locator("[data-stop-form]").is_visible() and page.locator("button[data-start]").is_disabled()
    page.locator(f'tr[data-run-id="{run.pk}"] [data-cell="parameters"]', has_text="40 users · 10/s · 30 s").wait_for()

    for second in (1, 2, 3):
        figures = {
            "users": 40,
            "requests": 1000 * second,
            "failures": second,
            "rps": 33.3 * second,
            "failures_per_second": 0.5,
            "p50_ms": 10 + second,
            "p95_ms": 40 + second,
            "elapsed": float(second),
        }
        publish("stress", "stress.progress", {"id": run.pk, **figures})
    page.wait_for_function("() => Chart.getChart('chart-throughput').data.datasets[0].data.length === 3")
    assert page.locator('[data-figure="requests"]').inner_text() == "3,000"
    assert page.locator('[data-figure="rps"]').inner_text() == "99.9"
    assert page.locator('[data-figure="p95_ms"]').inner_text() == "43"
    assert page.evaluate("Chart.getChart('chart-latency').data.datasets[1].data.map((p) => p.y)") == [41, 42, 43]
    assert "3 s elapsed" in page.locator("[data-run-caption]").inner_text()
    assert page.locator(f'tr[data-run-id="{run.pk}"] [data-cell="requests"]').inner_text() == "3,000"

    report = {**FINISHED_REPORT, "endpoints": [], "errors": [], "partial": False}
    StressTest.objects.filter(pk=run.pk).update(
        status=RunStatus.FINISHED, active=None, finished_at=timezone.now(), report=report
    )
    publish("stress", "stress.finished", {"id": run.pk, "status": "finished", "report": report, "error": ""})
    row = page.locator(f'tr[data-run-id="{run.pk}"]')
    row.locator('[data-cell="status"]', has_text="Finished").wait_for()
    assert row.locator('[data-cell="requests"]').inner_text() == "1,234"
    assert row.locator('[data-cell="latency"]').inner_text() == "12 / 48"
    assert page.locator("[data-runs-total]").inner_text() == "1"
    assert page.locator('[data-figure="requests"]').inner_text() == "1,234"
    assert not page.locator("[data-stop-form]").is_visible() and page.locator("button[data-start]").is_enabled()


@pytest.mark.django_db(transaction=True)
def test_the_stress_page_reads_well_on_a_phone(phone, site):
    _staff_tab(phone, site)
    live = {"users": 50, "requests": 12_345, "failures": 3, "rps": 98.7, "p50_ms": 11, "p95_ms": 64, "elapsed": 42.0}
    stress_run(report={**FINISHED_REPORT, "endpoints": []}, concurrent_users=200, actions_per_second=100)
    stress_run(RunStatus.FAILED, error="locust reported nothing.")
    stress_run(RunStatus.RUNNING, report={"live": live, "updated_at": timezone.now().isoformat()}, duration=120)

    phone.goto(site(STRESS))
    _wait_live(phone)

    assert phone.locator('[data-figure="requests"]').inner_text() == "12,345"
    assert phone.locator("[data-stop-form] button").is_visible()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a 390px screen"
    assert phone.locator("table.stress-runs thead").bounding_box()["height"] <= 1  # rows become labelled cards


@pytest.mark.django_db(transaction=True)
def test_the_demo_controls_start_and_stop_a_simulation_and_its_counters_move(page, site, background_runs):
    GameFactory(), GameFactory()
    _staff_tab(page, site)
    page.goto(site("/"))
    controls = page.locator("#demo-controls")
    controls.wait_for()

    controls.locator('input[name="players"]').fill("20")
    # A gentle rate: in the embedded pass's in-memory SQLite a stop that meets a score's write fails at once
    # instead of waiting its turn, as the embedded mode's file database does.
    controls.locator('input[name="rate"]').fill("4")
    controls.locator('input[name="duration"]').fill("120")
    controls.locator("button[data-start]").click()

    controls.locator("[data-simulation-badge]", has_text="Running").wait_for()
    page.wait_for_function(
        "() => Number(document.querySelector('#demo-controls [data-counter=scores_submitted]').textContent"
        ".replace(/,/g, '')) >= 3",
        timeout=10_000,
    )
    assert controls.locator("button[data-start]").is_disabled()
    assert controls.locator("[data-simulation-progress]").is_visible()
    run = Simulation.objects.get()
    assert (run.players, run.rate, run.duration) == (20, 4.0, 120)

    controls.locator("button[data-stop]").click()
    controls.locator("[data-simulation-badge]", has_text="Idle").wait_for()
    controls.locator("[data-simulation-state]", has_text=f"Last run: simulation {run.pk} stopped early").wait_for()
    assert controls.locator("button[data-start]").is_enabled() and controls.locator("button[data-stop]").is_disabled()
    run.refresh_from_db()
    assert run.status == RunStatus.STOPPED
    shown = int(controls.locator("[data-counter=scores_submitted]").inner_text().replace(",", ""))
    assert shown == run.scores_submitted > 0


@pytest.mark.django_db(transaction=True)
def test_the_demo_controls_show_a_refused_start_without_a_reload(page, site, background_runs):
    GameFactory()
    _staff_tab(page, site)
    page.goto(site("/"))
    controls = page.locator("#demo-controls")
    players = controls.locator('input[name="players"]')
    message = controls.locator("[data-demo-message]")

    # Out of the API's bounds: said at once, nothing sent.
    players.fill("0")
    controls.locator("button[data-start]").click()
    message.locator("text=Players: Value must be greater than or equal to 1.").wait_for()
    assert players.get_attribute("aria-invalid") == "true"

    # Refused by the service (one player cannot carry 100 scores a second): the API's 400 is shown.
    players.fill("1")
    controls.locator('input[name="rate"]').fill("100")
    controls.locator("button[data-start]").click()
    message.locator("text=use at least").wait_for()
    assert message.get_attribute("class") == "demo-message error"
    assert controls.locator('input[name="rate"]').get_attribute("aria-invalid") == "true"
    assert not Simulation.objects.exists()
    # The browser logs the 400 it was expected to get; nothing else.
    assert page.console.errors == ["Failed to load resource: the server responded with a status of 400 (Bad Request)"]
    page.console.errors.clear()


@pytest.mark.django_db(transaction=True)
def test_populate_from_the_demo_controls_shows_the_demo_data_without_a_reload(
    phone, site, background_runs, monkeypatch, ranking_index
):
    monkeypatch.setattr(populations, "DEFAULT_PLAYERS", 30)
    _staff_tab(phone, site)
    phone.goto(site("/"))
    controls = phone.locator("#demo-controls")
    controls.locator("[data-population-state]", has_text="No demo data yet").wait_for()

    controls.locator("button", has_text="Populate demo data").click()

    controls.locator("[data-population-badge]", has_text="Present").wait_for(timeout=30_000)
    controls.locator("[data-population-state]", has_text="31 players / 600 scores in 4 games.").wait_for()
    assert controls.locator("button", has_text="Populate demo data").is_disabled()
    assert DemoPopulation.objects.get().status == RunStatus.FINISHED
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the dashboard is {width}px wide on a 390px screen"
