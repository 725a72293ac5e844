"""The container deployment (Dockerfile, .dockerignore, docker-compose.yml, deploy/), checked by reading its files.

Nothing here needs Docker or a database. Each test compares a deployment file with what it deploys: the
variables settings.py reads, the Procfile's processes, the ports the servers bind, the metrics the app exports.
A renamed setting, process, port or metric fails here instead of in a container.
"""

from __future__ import annotations

import ast
import fnmatch
import functools
import ipaddress
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent

SERVICES = {"proxy", "migrate", "web", "ws", "worker", "beat", "postgres", "redis", "jaeger", "prometheus", "grafana"}
# The services that run the Podium image; the servers among them run one Procfile process each.
APP_SERVICES = ("migrate", "web", "ws", "worker", "beat")
SERVERS = ("web", "ws", "worker", "beat")
SCALABLE = ("web", "ws", "worker")
# Host ports: the public origin and the observability UIs, nothing else.
PUBLISHED = {"proxy": {(8080, 80)}, "grafana": {(3000, 3000)}, "jaeger": {(16686, 16686)}, "prometheus": {(9090, 9090)}}
# What production cannot run without (settings.py refuses or silently falls back to the embedded profile).
REQUIRED_IN_PRODUCTION = {
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
}
# Variables read by a library rather than by Podium's code, with the package whose source reads them.
LIBRARY_VARIABLES = {"PROMETHEUS_MULTIPROC_DIR": "prometheus_client"}
# The dashboard's panels, by the metric each one plots.
DASHBOARD_METRICS = {
    "django_http_requests_total_by_view_transport_method_total",
    "django_http_requests_latency_seconds_by_view_method_bucket",
    "podium_scores_submitted_total",
    "podium_websockets_open",
    "podium_events_published_total",
    "podium_events_sent_total",
    "podium_events_dropped_total",
    "podium_publish_lag_seconds_bucket",
    "podium_celery_tasks_total",
    "podium_prizes_paid_total",
    "podium_prize_credits_paid_total",
    "podium_simulator_active",
    "podium_ranking_seconds_bucket",
    "podium_score_submit_seconds_bucket",
}
BUILD_TOOLS = {"gcc", "g++", "cc", "c++", "clang", "make", "cmake", "build-essential", "pkg-config", "autoconf"}
PROMQL_FUNCTIONS = {
    "abs", "avg", "avg_over_time", "bottomk", "ceil", "clamp_max", "clamp_min", "count", "count_over_time",
    "delta", "deriv", "floor", "histogram_quantile", "increase", "irate", "label_replace", "max",
    "max_over_time", "min", "min_over_time", "quantile", "rate", "round", "scalar", "sort", "sort_desc",
    "stddev", "sum", "sum_over_time", "time", "topk", "vector",
}  # fmt: skip
PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and", "or"}


# --- Reading the files ---------------------------------------------------------------------------------------------


@functools.cache
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def service(name: str) -> dict:
    return compose()["services"][name]


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?error}``; a missing required variable raises."""

    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, operator, argument = match.group("name"), match.group("op"), match.group("arg")
        if variables.get(name):
            return variables[name]
        if operator == ":?":
            raise KeyError(f"{name}: {argument}")
        return argument if operator == ":-" else ""

    pattern = r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:[-?])(?P<arg>[^}]*))?\}"
    return re.sub(pattern, replace, value)


def app_environment(name: str, **variables: str) -> dict[str, str]:
    """A Podium service's environment as compose gives it, with the host's variables given here."""
    return {key: interpolate(str(value), variables) for key, value in service(name)["environment"].items()}


@functools.cache
def procfile() -> dict[str, str]:
    processes = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if match := re.match(r"^([A-Za-z0-9_-]+):\s*(.+)$", line):
            processes[match.group(1)] = match.group(2)
    return processes


def settings_variables() -> set[str]:
    """Every variable settings.py reads: the first argument of each ``env(...)`` / ``env.<cast>(...)`` call."""
    tree = ast.parse((ROOT / "leaderboard_project" / "settings.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        is_env = (isinstance(func, ast.Name) and func.id == "env") or (
            isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "env"
        )
        first = node.args[0]
        if is_env and isinstance(first, ast.Constant) and isinstance(first.value, str):
            names.add(first.value)
    return names


def procfile_variables() -> set[str]:
    return {name for command in procfile().values() for name in re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", command)}


def library_variables() -> set[str]:
    """The library variables whose name the library's own source really contains."""
    import importlib.util

    found = set()
    for name, package in LIBRARY_VARIABLES.items():
        origin = Path(importlib.util.find_spec(package).origin).parent
        if any(name in path.read_text(errors="ignore") for path in origin.rglob("*.py")):
            found.add(name)
    return found


@functools.cache
def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (INSTRUCTION, arguments), continuation lines joined, comments left out."""
    instructions, current = [], ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        keyword, _, arguments = current.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        current = ""
    return instructions


def dockerfile_stages() -> list[dict]:
    """Each stage: its name, its base image (global ARGs resolved) and its instructions."""
    global_args, stages = {}, []
    for keyword, arguments in dockerfile():
        if keyword == "FROM":
            image, _, name = arguments.partition(" AS ")
            image = re.sub(r"\$\{(\w+)\}", lambda m: global_args[m.group(1)], image.strip())
            stages.append({"name": name.strip(), "image": image, "instructions": []})
        elif stages:
            stages[-1]["instructions"].append((keyword, arguments))
        elif keyword == "ARG":
            name, _, default = arguments.partition("=")
            global_args[name] = default
    return stages


def instruction_values(stage: dict, keyword: str) -> list[str]:
    return [arguments for name, arguments in stage["instructions"] if name == keyword]


def env_assignments(stage: dict) -> dict[str, str]:
    return dict(item.split("=", 1) for arguments in instruction_values(stage, "ENV") for item in shlex.split(arguments))


def exec_form(arguments: str) -> list[str]:
    """A JSON-array instruction (CMD, ENTRYPOINT, HEALTHCHECK's CMD)."""
    return json.loads(arguments[arguments.index("[") :])


@functools.cache
def dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip().rstrip("/") for line in lines if line.strip() and not line.strip().startswith("#")]


def ignored(path: str) -> bool:
    """Whether the build context leaves ``path`` (or a folder above it) out, as .dockerignore patterns do."""
    parts = path.split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    result = False
    for pattern in dockerignore():
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!")
        patterns = {pattern, pattern.removeprefix("**/")}
        if pattern.startswith("**/"):
            patterns |= {f"*/{pattern[3:]}", f"*/*/{pattern[3:]}"}
        if any(fnmatch.fnmatchcase(candidate, p) for candidate in candidates for p in patterns):
            result = not negate
    return result


def nginx_blocks() -> list:
    """deploy/nginx.conf as a tree: [name, [args], children or None] for each directive."""
    text = re.sub(r"#[^\n]*", "", (ROOT / "deploy" / "nginx.conf").read_text())
    tokens = re.findall(r'"[^"]*"|[{};]|[^\s{};]+', text)
    root: list = []
    stack, words = [root], []
    for token in tokens:
        if token == ";":
            stack[-1].append([words[0], words[1:], None])
            words = []
        elif token == "{":
            block = [words[0], words[1:], []]
            stack[-1].append(block)
            stack.append(block[2])
            words = []
        elif token == "}":
            stack.pop()
        else:
            words.append(token.strip('"'))
    return root


def nginx_find(blocks: list, name: str) -> list:
    found = []
    for block in blocks:
        if block[0] == name:
            found.append(block)
        if block[2]:
            found.extend(nginx_find(block[2], name))
    return found


def nginx_directives(block: list, name: str) -> list[list[str]]:
    return [args for directive, args, children in block[2] if directive == name and children is None]


def nginx_location(path: str) -> list:
    locations = [block for block in nginx_find(nginx_blocks(), "location") if block[1][-1] == path]
    assert len(locations) == 1, f"deploy/nginx.conf has {len(locations)} locations for {path}"
    return locations[0]


def nginx_upstream_servers(location: list) -> list[str]:
    """The host:port of the servers of the upstream a location proxies to."""
    (target,) = nginx_directives(location, "proxy_pass")
    upstream_name = urlsplit(target[0]).hostname
    upstreams = [block for block in nginx_find(nginx_blocks(), "upstream") if block[1] == [upstream_name]]
    assert upstreams, f"proxy_pass {target[0]} names no upstream"
    return [args[0] for args in nginx_directives(upstreams[0], "server")]


def seconds(duration: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return int(duration[:-1]) * units[duration[-1]] if duration[-1] in units else int(duration)


def listen_ports() -> dict[str, int]:
    """The port each HTTP server binds with its compose environment, or the Procfile's default."""

    def port(service: str, variable: str) -> int:
        given = app_environment(service, SECRET_KEY="x").get(variable)
        return int(given or re.search(rf"{variable}:-(\d+)", procfile()[service]).group(1))

    worker_port = app_environment("worker", SECRET_KEY="x")["CELERY_METRICS_PORT"]
    return {"web": port("web", "WEB_PORT"), "ws": port("ws", "WS_PORT"), "worker": int(worker_port)}


def healthcheck_url(test: list[str]) -> str:
    return re.search(r"https?://[^'\"]+", " ".join(test)).group()


def promql_names(expr: str) -> tuple[set[str], set[str]]:
    """The metric names and the functions a PromQL expression uses."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\$\w+", "", expr)  # Grafana variables ($__range)
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", expr)  # label matchers and ranges
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    metrics, functions = set(), set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", expr):
        word = match.group()
        if expr[match.end() :].lstrip().startswith("("):
            functions.add(word)
        elif word not in PROMQL_KEYWORDS:
            metrics.add(word)
    return metrics, functions


def exported_metric_names(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The sample names /metrics serves: what ``metrics_view.metrics_registry`` collects (prometheus_client's
    registry, holding Podium's metrics and django-prometheus', plus the simulator's collector), by type: a
    counter ``x`` exports ``x_total``, a histogram ``x_bucket``, ``x_sum`` and ``x_count``. Under
    PROMETHEUS_MULTIPROC_DIR the same metrics are read from the processes' files under the same names."""
    from django_prometheus.middleware import Metrics

    import common.metrics  # noqa: F401  (registers Podium's metrics)
    from leaderboard_project.metrics_view import metrics_registry

    Metrics.get_instance()  # django-prometheus registers its HTTP metrics with its middleware's first instance
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    # The simulator's collector reads the database at each scrape: answer for it, this test has no database.
    monkeypatch.setattr(
        "simulator.selectors.simulator_active", lambda: {"simulation": False, "stress_test": True, "population": False}
    )
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"], "summary": ["", "_sum", "_count"]}
    names = set()
    for family in metrics_registry().collect():
        names.update(family.name + suffix for suffix in suffixes.get(family.type, [""]))
        names.update(sample.name for sample in family.samples)
    return names


# --- docker-compose.yml ------------------------------------------------------------------------------------------


def test_compose_runs_every_service_of_the_deployment():
    assert set(compose()["services"]) == SERVICES


def test_compose_builds_and_mounts_only_files_that_exist():
    declared_volumes = set(compose().get("volumes") or {})
    for name, spec in compose()["services"].items():
        if "build" in spec:
            build = spec["build"] if isinstance(spec["build"], dict) else {"context": spec["build"]}
            context = ROOT / build["context"]
            assert context.is_dir(), name
            assert (context / build.get("dockerfile", "Dockerfile")).is_file(), name
        else:
            assert spec.get("image"), f"{name} neither builds nor names an image"
        for volume in spec.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which is not in the repository"
            else:
                assert source in declared_volumes, f"{name} uses the undeclared volume {source}"
    assert {"postgres-data", "prometheus-data", "grafana-data"} <= declared_volumes


def test_podium_services_share_one_environment():
    shared = compose()["x-podium-env"]
    for name in APP_SERVICES:
        environment = service(name)["environment"]
        assert {key: environment[key] for key in shared} == shared, name
        assert environment["OTEL_SERVICE_NAME"] == f"podium-{name}"


def test_podium_services_have_what_production_requires():
    read = settings_variables()
    assert REQUIRED_IN_PRODUCTION <= read, "settings.py no longer reads these: update the test"
    for name in APP_SERVICES:
        environment = service(name)["environment"]
        assert REQUIRED_IN_PRODUCTION <= set(environment), name
        assert environment["DEBUG"] == "false"
        # No default secret in the file: compose refuses to start without SECRET_KEY in the host's environment.
        assert re.fullmatch(r"\$\{SECRET_KEY:\?[^}]+\}", environment["SECRET_KEY"])
    with pytest.raises(KeyError, match="SECRET_KEY"):
        app_environment("web")


def test_every_variable_given_to_podium_is_one_it_reads():
    readers = settings_variables() | procfile_variables() | library_variables()
    for name in APP_SERVICES:
        unknown = set(service(name)["environment"]) - readers
        assert not unknown, f"{name} sets variables nothing reads (a typo?): {sorted(unknown)}"


PROBE = """
import json, django
from django.conf import settings
django.setup()
from leaderboard_project.metrics_view import allowed_networks
database = settings.DATABASES["default"]
print(json.dumps({
    "debug": settings.DEBUG,
    "db_engine": database["ENGINE"],
    "db_host": database.get("HOST", ""),
    "cache": settings.CACHES["default"]["BACKEND"],
    "channel_layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "eager": settings.CELERY_TASK_ALWAYS_EAGER,
    "otel": settings.OTEL_EXPORTER_OTLP_ENDPOINT,
    "allowed_hosts": settings.ALLOWED_HOSTS,
    "num_proxies": settings.REST_FRAMEWORK["NUM_PROXIES"],
    "stress_target_url": settings.STRESS_TARGET_URL,
    "metrics_networks": [str(network) for network in allowed_networks(tuple(settings.METRICS_ALLOWED_IPS))],
}))
"""


def test_settings_load_the_production_profile_from_the_compose_environment(tmp_path):
    environment = app_environment("web", SECRET_KEY="s" * 50)
    environment |= {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "leaderboard_project.settings",  # what manage.py, wsgi.py and asgi.py set
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
    }

    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["debug"] is False
    assert loaded["db_engine"] == "django.db.backends.postgresql"
    assert loaded["db_host"] == "postgres"
    assert loaded["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert loaded["channel_layer"].startswith("channels_redis.")
    assert loaded["eager"] is False
    assert urlsplit(loaded["otel"]).hostname == "jaeger"
    assert loaded["num_proxies"] == 1
    # Prometheus reaches /metrics from its address on the compose network (Docker's default pools are private).
    networks = [ipaddress.ip_network(network) for network in loaded["metrics_networks"]]
    assert any(ipaddress.ip_address("172.18.0.5") in network for network in networks)
    # Stress tests call the site by the proxy's name, which must pass Django's host check (the probes and
    # /metrics answer before it, so health checks and Prometheus may call a replica by its address).
    assert urlsplit(loaded["stress_target_url"]).hostname in loaded["allowed_hosts"]


def test_each_podium_service_runs_a_procfile_process_or_a_management_command():
    from django.core.management import get_commands

    run = set()
    for name in APP_SERVICES:
        command = service(name)["command"]
        if len(command) == 1:
            assert command[0] in procfile(), f"{name} runs {command[0]}, which is not a Procfile process"
            run.add(command[0])
        else:
            assert command[:2] == ["python", "manage.py"], name
            assert (ROOT / "manage.py").is_file()
            assert command[2] in get_commands(), f"{name} runs manage.py {command[2]}, which does not exist"
    assert run == set(procfile()), "every Procfile process runs in a service of its own"
    assert {name: service(name)["command"] for name in SERVERS} == {name: [name] for name in SERVERS}


def test_procfile_lines_are_single_commands_of_installed_programs_and_existing_modules():
    for name, command in procfile().items():
        lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        tokens = list(lexer)
        # The entrypoint execs the line: a list or pipeline would lose all but its first command.
        assert not {";", "&", "&&", "||", "|"} & set(tokens), name
        assert (VENV_BIN / tokens[0]).is_file(), f"{name}: {tokens[0]} is not installed by requirements.txt"
        for token in tokens:
            if match := re.fullmatch(r"([a-z_]+(?:\.[a-z_]+)*):[a-z_]+", token):
                assert (ROOT / (match.group(1).replace(".", "/") + ".py")).is_file(), token
            if token.endswith(".py"):
                assert (ROOT / token).is_file(), token
        if "-A" in tokens:
            assert (ROOT / tokens[tokens.index("-A") + 1] / "celery.py").is_file()


def test_depends_on_waits_for_health_checks_and_for_the_migrations():
    for name, spec in compose()["services"].items():
        depends_on = spec.get("depends_on") or {}
        if isinstance(depends_on, list):
            depends_on = dict.fromkeys(depends_on, {"condition": "service_started"})
        for dependency, condition in depends_on.items():
            assert dependency in SERVICES, f"{name} waits for {dependency}, which does not exist"
            condition = condition["condition"]
            target = service(dependency)
            if condition == "service_healthy":
                assert "test" in target.get("healthcheck", {}), f"{name} waits for {dependency}'s health check"
            elif condition == "service_completed_successfully":
                assert target.get("restart") == "no", f"{dependency} must be a one-shot service"
    for name in SERVERS:
        assert service(name)["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert service("proxy")["depends_on"] == {
        "web": {"condition": "service_healthy"},
        "ws": {"condition": "service_healthy"},
    }
    assert service("postgres")["healthcheck"]["test"][1] == "pg_isready"
    assert service("redis")["healthcheck"]["test"][1:] == ["redis-cli", "ping"]


def test_web_and_ws_health_checks_ask_healthz_with_python_on_the_port_they_listen_on():
    ports = listen_ports()
    for name in ("web", "ws"):
        test = service(name)["healthcheck"]["test"]
        assert test[:3] == ["CMD", "python", "-c"] and "urllib.request" in test[3]
        url = urlsplit(healthcheck_url(test))
        assert (url.port, url.path) == (ports[name], "/healthz")
    for name in ("worker", "beat", "migrate"):
        assert service(name)["healthcheck"] == {"disable": True}, f"{name} serves no HTTP: no health check"


def test_only_the_proxy_and_the_observability_uis_publish_ports():
    published = {}
    for name, spec in compose()["services"].items():
        for port in spec.get("ports", []):
            host, container = str(port).rsplit(":", 2)[-2:]
            published.setdefault(name, set()).add((int(host), int(container)))
    assert published == PUBLISHED


def test_scalable_services_have_no_fixed_name_or_host_port():
    for name in SCALABLE:
        assert "container_name" not in service(name)
        assert "ports" not in service(name)
        assert "deploy" not in service(name), "replicas come from --scale"


def test_images_are_pinned_by_tag():
    for name, spec in compose()["services"].items():
        if "build" in spec:
            continue
        image = spec["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{name}: {image} is not pinned to a tag"
        assert tag != "latest" and re.search(r"\d+\.\d+", tag), f"{name}: {image} is not pinned to a version"


# --- Dockerfile and .dockerignore ----------------------------------------------------------------------------------


def test_dockerfile_base_images_are_pinned_by_tag():
    stages = dockerfile_stages()
    for stage in stages:
        repository, _, tag = stage["image"].rpartition(":")
        assert repository and tag and tag != "latest", stage["image"]
        assert re.search(r"\d+\.\d+", tag), f"{stage['image']} is not pinned to a version"
    node, build, final = stages
    assert node["image"].startswith("node:")
    assert build["image"] == final["image"] and "slim" in final["image"], "the venv runs on the base it was built on"


def test_dockerfile_builds_assets_venv_and_static_files():
    node, build, _ = dockerfile_stages()
    assert any("package.json" in copy and "package-lock.json" in copy for copy in instruction_values(node, "COPY"))
    assert any(run.startswith("npm ci") for run in instruction_values(node, "RUN"))
    # requirements.txt pulls in constraints.txt (-c): both are in the image before pip reads them.
    referenced = set(re.findall(r"^-[cr]\s*(\S+)", (ROOT / "requirements.txt").read_text(), re.MULTILINE))
    copied_first = instruction_values(build, "COPY")[0].split()
    assert {"requirements.txt", *referenced} <= set(copied_first)
    assert any("pip install -r requirements.txt" in run for run in instruction_values(build, "RUN"))
    assert any(copy.startswith(f"--from={node['name']} ") for copy in instruction_values(build, "COPY"))
    (collectstatic,) = [run for run in instruction_values(build, "RUN") if "collectstatic" in run]
    # The throwaway secret is given to that one command, not kept in the image's configuration.
    assert "DEBUG=false" in collectstatic and re.search(r"SECRET_KEY=\S+", collectstatic)
    assert "SECRET_KEY" not in env_assignments(build) | env_assignments(dockerfile_stages()[2])
    assert not any("SECRET_KEY" in arg for arg in instruction_values(build, "ARG"))


def test_final_stage_runs_as_a_user_without_build_tools():
    _, build, final = dockerfile_stages()
    users = instruction_values(final, "USER")
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    for run in instruction_values(final, "RUN"):
        words = set(re.split(r"[\s;&|=]+", run))
        assert not words & BUILD_TOOLS, run
        assert not [word for word in words if word.endswith("-dev")], run
    assert {copy.split()[0] for copy in instruction_values(final, "COPY")} == {f"--from={build['name']}"}
    assert instruction_values(final, "WORKDIR") == ["/app"]
    assert any("/app/var" in run and "chown" in run for run in instruction_values(final, "RUN"))
    environment = env_assignments(final)
    assert environment["PYTHONUNBUFFERED"] == "1"
    assert environment["PROMETHEUS_MULTIPROC_DIR"] == "/tmp/metrics"
    assert environment["DEBUG"] == "false", "the image is production unless told otherwise"
    readers = settings_variables() | procfile_variables() | library_variables()
    assert set(environment) - readers == {"PATH", "PYTHONUNBUFFERED"}


def test_image_exposes_the_servers_ports_checks_health_and_runs_the_web_process():
    _, _, final = dockerfile_stages()
    ports = listen_ports()
    exposed = {int(port) for expose in instruction_values(final, "EXPOSE") for port in expose.split()}
    assert exposed == set(ports.values())
    (healthcheck,) = instruction_values(final, "HEALTHCHECK")
    test = exec_form(healthcheck)
    assert test[:2] == ["python", "-c"] and "urllib.request" in test[2] and "curl" not in healthcheck
    url = urlsplit(healthcheck_url(test))
    assert (url.port, url.path) == (ports["web"], "/healthz")
    (entrypoint,) = instruction_values(final, "ENTRYPOINT")
    script = exec_form(entrypoint)[-1]
    assert script.startswith("/app/") and (ROOT / script.removeprefix("/app/")).is_file()
    (cmd,) = instruction_values(final, "CMD")
    assert exec_form(cmd) == ["web"] and "web" in procfile()


def test_dockerignore_keeps_local_state_out_and_the_build_inputs_in():
    for path in (".venv", "node_modules", ".git", ".env", "var", "staticfiles", "artifacts", "bench/results"):
        assert ignored(path), path
    assert ignored("rankings/__pycache__/models.cpython-311.pyc")
    inputs = ["package.json", "package-lock.json", "requirements.txt", "constraints.txt", "Procfile", "manage.py"]
    inputs += ["deploy/entrypoint.sh", "leaderboard_project/settings.py", "static"]
    inputs += ["templates", "locustfile.py"]
    for path in inputs:
        assert (ROOT / path).exists() and not ignored(path), path


# --- deploy/entrypoint.sh ------------------------------------------------------------------------------------------


@pytest.fixture
def image_tree(tmp_path):
    """The entrypoint in an /app-like tree, with stand-ins for the servers that print how they were called."""
    (tmp_path / "deploy").mkdir()
    shutil.copy(ROOT / "deploy" / "entrypoint.sh", tmp_path / "deploy" / "entrypoint.sh")
    shutil.copy(ROOT / "Procfile", tmp_path / "Procfile")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for program in {shlex.split(command)[0] for command in procfile().values()}:
        stub = bin_dir / program
        stub.write_text('#!/bin/sh\necho "$(basename "$0") $*"\n')
        stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    return tmp_path


def run_entrypoint(tree: Path, *args: str, environment: dict[str, str]) -> subprocess.CompletedProcess:
    env = {**environment, "PATH": f"{tree / 'bin'}:/usr/bin:/bin"}
    return subprocess.run(
        ["/bin/sh", str(tree / "deploy" / "entrypoint.sh"), *args],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_entrypoint_empties_the_metrics_directory_before_each_start(image_tree):
    metrics_dir = image_tree / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_12.db").write_bytes(b"stale")
    (metrics_dir / "gauge_livesum_12.db").write_bytes(b"stale")

    result = run_entrypoint(
        image_tree, "ls", "-A", str(metrics_dir), environment={"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


def test_entrypoint_creates_a_missing_metrics_directory(image_tree):
    metrics_dir = image_tree / "tmp" / "metrics"

    result = run_entrypoint(image_tree, "true", environment={"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)})

    assert result.returncode == 0, result.stderr
    assert metrics_dir.is_dir()


@pytest.mark.parametrize("name", SERVERS)
def test_entrypoint_runs_the_procfile_line_of_each_service_with_its_environment(image_tree, name):
    environment = app_environment(name, SECRET_KEY="x") | {"PROMETHEUS_MULTIPROC_DIR": str(image_tree / "m")}

    result = run_entrypoint(image_tree, *service(name)["command"], environment=environment)

    assert result.returncode == 0, result.stderr
    expected = subprocess.run(
        ["/bin/sh", "-c", f"echo {procfile()[name]}"], env=environment, capture_output=True, text=True
    ).stdout
    assert result.stdout == expected
    if name == "ws":
        assert f"--host {environment['WS_HOST']} --port {listen_ports()['ws']}" in result.stdout
        assert environment["WS_HOST"] == "0.0.0.0"
    if name == "beat":
        assert "--schedule /app/var/" in result.stdout, "beat writes its schedule where the image lets it"


def test_entrypoint_execs_the_process_so_it_receives_the_containers_signals(tmp_path):
    (tmp_path / "deploy").mkdir()
    shutil.copy(ROOT / "deploy" / "entrypoint.sh", tmp_path / "deploy" / "entrypoint.sh")
    (tmp_path / "Procfile").write_text("web: echo $$\nwebx: echo other\n")

    process = subprocess.Popen(
        ["/bin/sh", str(tmp_path / "deploy" / "entrypoint.sh"), "web"], stdout=subprocess.PIPE, text=True
    )
    output, _ = process.communicate(timeout=30)

    assert output.strip() == str(process.pid)


def test_entrypoint_runs_any_other_command_as_given(image_tree):
    result = run_entrypoint(image_tree, "echo", "web", environment={})

    assert result.stdout == "web\n"


# --- deploy/nginx.conf, deploy/prometheus.yml ----------------------------------------------------------------------


def test_proxy_routes_websockets_to_ws_with_the_upgrade_headers():
    location = nginx_location("/ws/")
    ports = listen_ports()

    assert nginx_upstream_servers(location) == [f"ws:{ports['ws']}"]
    headers = {args[0].lower(): args[1] for args in nginx_directives(location, "proxy_set_header")}
    assert headers["upgrade"] == "$http_upgrade"
    (upgrade_map,) = [block for block in nginx_find(nginx_blocks(), "map") if block[1][0] == "$http_upgrade"]
    assert headers["connection"] == upgrade_map[1][1]
    assert ["default", "upgrade"] in [[name, *args] for name, args, _ in upgrade_map[2]]
    assert nginx_directives(location, "proxy_http_version") == [["1.1"]]
    assert seconds(nginx_directives(location, "proxy_read_timeout")[0][0]) >= 3600


def test_proxy_sends_everything_else_to_web_with_the_forwarded_headers():
    assert nginx_upstream_servers(nginx_location("/")) == [f"web:{listen_ports()['web']}"]
    for path in ("/", "/ws/"):
        headers = {args[0].lower(): args[1] for args in nginx_directives(nginx_location(path), "proxy_set_header")}
        assert headers["x-forwarded-for"] == "$proxy_add_x_forwarded_for", path
        assert headers["x-forwarded-proto"] == "$scheme", path
        assert headers["host"] == "$http_host", path
    assert service("web")["environment"]["NUM_PROXIES"] == "1"


def test_proxy_refuses_metrics():
    assert nginx_directives(nginx_location("/metrics"), "return") == [["404"]]


def prometheus_jobs() -> list[dict]:
    return yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())["scrape_configs"]


def job_targets(job: dict) -> list[str]:
    """``host:port`` of each target: static ones, and each replica of a service found by DNS."""
    static = [target for config in job.get("static_configs", []) for target in config["targets"]]
    found = [f"{name}:{config['port']}" for config in job.get("dns_sd_configs", []) for name in config["names"]]
    return static + found


def test_prometheus_scrapes_podium_services_on_the_ports_they_serve_metrics_on():
    from django.urls import resolve

    ports = listen_ports()
    scraped = {}
    for job in prometheus_jobs():
        assert job.get("metrics_path", "/metrics") == "/metrics"
        for target in job_targets(job):
            host, port = target.split(":")
            assert host in SERVICES, f"Prometheus scrapes {host}, which is not a service"
            scraped[host] = int(port)
    assert scraped == ports
    assert resolve("/metrics")


def test_grafana_reads_prometheus_and_the_repositorys_dashboard():
    mounts = dict(volume.split(":")[:2] for volume in service("grafana")["volumes"])
    provisioning = ROOT / "deploy" / "grafana" / "provisioning"
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"

    (source,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert source["type"] == "prometheus"
    assert urlsplit(source["url"]).hostname == "prometheus" and urlsplit(source["url"]).port == 9090

    (provider,) = yaml.safe_load((provisioning / "dashboards" / "podium.yml").read_text())["providers"]
    container_path = provider["options"]["path"]
    host_path = next(host for host, container in mounts.items() if container == container_path)
    assert (ROOT / host_path / "podium.json").is_file()
    home = service("grafana")["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{container_path}/podium.json"

    dashboard = json.loads((ROOT / host_path / "podium.json").read_text())
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == source["uid"], panel["title"]
        assert all(target["datasource"]["uid"] == source["uid"] for target in panel["targets"]), panel["title"]


def test_dashboard_plots_only_metrics_the_app_exports(monkeypatch):
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "dashboards" / "podium.json").read_text())
    used, functions = set(), set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            metrics, called = promql_names(target["expr"])
            assert metrics, f"{panel['title']}: {target['expr']} plots no metric"
            used |= metrics
            functions |= called

    assert functions <= PROMQL_FUNCTIONS, f"unknown PromQL functions: {sorted(functions - PROMQL_FUNCTIONS)}"
    assert DASHBOARD_METRICS <= used
    missing = used - exported_metric_names(monkeypatch)
    assert not missing, f"the dashboard plots metrics the app does not export: {sorted(missing)}"
