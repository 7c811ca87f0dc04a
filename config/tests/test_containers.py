"""The container files agree with the settings and with each other.

No Docker engine runs here, so these tests read the files: docker/compose.yaml has every service the
settings need, each with a health check; the application containers get every variable production
requires, and every variable compose sets is one that something reads (the settings, the server
config files or the entry point), so a typo cannot pass silently; the credentials of each backing
service match the URL the application is given; nginx proxies WebSockets and serves the static and
media volumes the containers write; the Dockerfile is multi-stage and non-root; CI runs the same
checks against the same services.
"""

from __future__ import annotations

import os
import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKER_DIR = REPO_ROOT / "docker"
COMPOSE_FILE = DOCKER_DIR / "compose.yaml"
DOCKERFILE = DOCKER_DIR / "Dockerfile"
ENTRYPOINT = DOCKER_DIR / "entrypoint.sh"
SERVERS_DIR = DOCKER_DIR / "servers"
GUNICORN_CONFIG = SERVERS_DIR / "gunicorn.conf.py"
NGINX_DIR = DOCKER_DIR / "nginx"
NGINX_CONF = NGINX_DIR / "nginx.conf"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
CI_WORKFLOW = REPO_ROOT / ".github" / "workflows" / "ci.yml"
SETTINGS_FILE = REPO_ROOT / "config" / "settings.py"
BASE_REQUIREMENTS = REPO_ROOT / "requirements" / "base.txt"
MAKEFILE = REPO_ROOT / "Makefile"

# The four long-running roles of the one image, and the one-shot release step.
APP_SERVICES = ("web", "ws", "worker", "beat")
RELEASE_SERVICE = "migrate"
BACKING_SERVICES = ("postgres", "redis", "rabbitmq", "seaweedfs", "meilisearch", "nginx")

# What production cannot do without. For each of these the settings fall back to a local address,
# an insecure key, local disk or PostgreSQL search: in a container, a broken or unsafe forum.
PRODUCTION_REQUIRED = (
    "FORUM_ENV",
    "SECRET_KEY",
    "PASSWORD_PEPPER",
    "INTERNAL_API_SECRETS",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "S3_ENDPOINT_URL",
    "S3_BUCKET",
    "S3_ACCESS_KEY_ID",
    "S3_SECRET_ACCESS_KEY",
    "S3_REGION",
    "MEILISEARCH_URL",
    "MEILISEARCH_API_KEY",
)
# Secrets are never written into the compose file: they must come from the environment, and compose
# must refuse to start without them (${NAME:?message}).
SECRETS = (
    "SECRET_KEY",
    "PASSWORD_PEPPER",
    "INTERNAL_API_SECRETS",
    "S3_ACCESS_KEY_ID",
    "S3_SECRET_ACCESS_KEY",
    "MEILISEARCH_API_KEY",
)

# The compose service each address must name.
URL_TARGETS = {
    "DATABASE_URL": "postgres",
    "REDIS_URL": "redis",
    "CELERY_BROKER_URL": "rabbitmq",
    "S3_ENDPOINT_URL": "seaweedfs",
    "MEILISEARCH_URL": "meilisearch",
}

# Ports the servers listen on when PORT is not set: gunicorn.conf.py and the entry point's ws role.
WEB_PORT = 8000
WS_PORT = 8001

INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)([^}]*)\}")
NAME = r"([A-Z][A-Z0-9_]*)"
ENV_CALL = re.compile(r"\benv(?:\.[a-z_]+)?\(\s*[\"']" + NAME + r"[\"']")
OS_ENVIRON = re.compile(r"\bos\.(?:environ\.get\(|environ\[|getenv\()\s*[\"']" + NAME + r"[\"']")
SHELL_EXPANSION = re.compile(r"\$\{?" + NAME)
SHELL_ASSIGNMENT = re.compile(r"^\s*" + NAME + r"=", re.MULTILINE)


# --- reading the files ------------------------------------------------------------------------------


@cache
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict), f"{COMPOSE_FILE} is not a YAML mapping"
    return data


def services() -> dict[str, dict[str, Any]]:
    found = compose().get("services")
    assert isinstance(found, dict) and found, f"{COMPOSE_FILE} defines no services"
    return found


def environment(service: str) -> dict[str, str]:
    """The variables compose sets in one service, in either of compose's two spellings."""
    value = services()[service].get("environment") or {}
    if isinstance(value, list):
        pairs = (item.split("=", 1) if "=" in item else (item, "") for item in value)
        return dict(pairs)
    return {str(name): "" if text is None else str(text) for name, text in value.items()}


def referenced_variables(value: str) -> set[str]:
    return {match.group(1) for match in INTERPOLATION.finditer(value)}


def without_interpolation(value: str) -> str:
    """The value with each ${...} replaced by a placeholder, so that it parses as a URL."""
    return INTERPOLATION.sub("placeholder", value)


def command(service: str) -> list[str]:
    value = services()[service].get("command")
    if isinstance(value, str):
        return value.split()
    assert isinstance(value, list), f"service {service} has no command"
    return [str(part) for part in value]


def depends_on(service: str) -> dict[str, str]:
    """Dependency -> condition."""
    value = services()[service].get("depends_on") or {}
    if isinstance(value, list):
        return dict.fromkeys(value, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in value.items()}


def mounts(service: str) -> dict[str, tuple[str, str]]:
    """Source (named volume or path) -> (target in the container, mode)."""
    found = {}
    for entry in services()[service].get("volumes") or []:
        if isinstance(entry, dict):
            mode = "ro" if entry.get("read_only") else "rw"
            found[str(entry["source"])] = (str(entry["target"]), mode)
        else:
            parts = str(entry).split(":")
            found[parts[0]] = (parts[1], parts[2] if len(parts) > 2 else "rw")
    return found


def variables_read_by_settings() -> set[str]:
    text = SETTINGS_FILE.read_text()
    return set(ENV_CALL.findall(text)) | set(OS_ENVIRON.findall(text))


def variables_read_by_server_configs() -> set[str]:
    return {name for path in SERVERS_DIR.glob("*.py") for name in OS_ENVIRON.findall(path.read_text())}


def variables_read_by_entrypoint() -> set[str]:
    text = ENTRYPOINT.read_text()
    own = set(SHELL_ASSIGNMENT.findall(text))
    return (set(SHELL_EXPANSION.findall(text)) - own) | set(OS_ENVIRON.findall(text))


def variables_read() -> dict[str, str]:
    """Every variable something in the image reads -> who reads it."""
    readers = {
        "docker/entrypoint.sh": variables_read_by_entrypoint(),
        "docker/servers/*.py": variables_read_by_server_configs(),
        "config/settings.py": variables_read_by_settings(),
    }
    return {name: reader for reader, names in readers.items() for name in names}


def nginx_text() -> str:
    """nginx.conf and every file it includes, comments removed."""
    text = NGINX_CONF.read_text()
    for include in re.findall(r"^\s*include\s+([^;\s]+);", text, re.MULTILINE):
        path = NGINX_DIR / include
        if path.is_file():
            text += "\n" + path.read_text()
    return re.sub(r"#[^\n]*", "", text)


def nginx_blocks(text: str, header: str) -> list[str]:
    """The bodies of every block whose header matches the regex ``header`` (e.g. ``location /ws/``)."""
    bodies = []
    for match in re.finditer(header + r"\s*\{", text):
        depth, start = 1, match.end()
        for position in range(start, len(text)):
            if text[position] == "{":
                depth += 1
            elif text[position] == "}":
                depth -= 1
                if depth == 0:
                    bodies.append(text[start:position])
                    break
        else:
            raise AssertionError(f"block {header!r} in {NGINX_CONF} is never closed")
    return bodies


def nginx_block(text: str, header: str) -> str:
    """The body of the first block whose header matches the regex ``header``."""
    bodies = nginx_blocks(text, header)
    assert bodies, f"no block {header!r} in {NGINX_CONF}"
    return bodies[0]


def nginx_location(path: str, *, exact: bool = False) -> str:
    body = nginx_block(nginx_text(), r"location\s+" + ("=\\s*" if exact else "") + re.escape(path))
    included = "".join((NGINX_DIR / name).read_text() for name in re.findall(r"include\s+([^;\s]+);", body))
    return body + included


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    lines = [line for line in DOCKERFILE.read_text().splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    instructions = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, arguments = line.strip().partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def entrypoint_roles() -> set[str]:
    """The roles the entry point's main case statement runs."""
    main = ENTRYPOINT.read_text().split('case "$role" in')[-1]
    return set(re.findall(r"^    ([a-z][a-z-]*)\)$", main, re.MULTILINE))


@cache
def workflow() -> dict[Any, Any]:
    data = yaml.safe_load(CI_WORKFLOW.read_text())
    assert isinstance(data, dict), f"{CI_WORKFLOW} is not a YAML mapping"
    return data


def pinned_requirements() -> dict[str, str]:
    pins = {}
    for line in BASE_REQUIREMENTS.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;\\]+)", line)
        if match:
            pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    return pins


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


# --- compose: services and health checks --------------------------------------------------------------


def test_compose_has_every_service_the_settings_need() -> None:
    missing = {*APP_SERVICES, *BACKING_SERVICES, RELEASE_SERVICE} - set(services())
    assert not missing, f"{COMPOSE_FILE} lacks the services {sorted(missing)}"


@pytest.mark.parametrize("service", APP_SERVICES + BACKING_SERVICES)
def test_every_long_running_service_has_a_health_check(service: str) -> None:
    healthcheck = services()[service].get("healthcheck") or {}
    assert not healthcheck.get("disable"), f"{service}: health check disabled"
    test = healthcheck.get("test")
    assert test and test not in (["NONE"], "NONE"), f"{service}: no health check test"
    assert services()[service].get("restart") in ("unless-stopped", "always"), (
        f"{service}: a long-running service must be restarted when it dies"
    )


def test_release_step_is_one_shot_and_adopted_by_the_application() -> None:
    release = services()[RELEASE_SERVICE]
    assert str(release.get("restart")) == "no", "the release step must run once, not be restarted"
    assert (release.get("healthcheck") or {}).get("disable"), "a one-shot step has nothing to probe"
    for service in APP_SERVICES:
        # `docker compose up --wait` accepts an exited container only when something waits for it.
        assert depends_on(service).get(RELEASE_SERVICE) == "service_completed_successfully", (
            f"{service} must start only after {RELEASE_SERVICE} exited 0"
        )


@pytest.mark.parametrize("service", APP_SERVICES)
def test_application_waits_for_healthy_backing_services(service: str) -> None:
    conditions = depends_on(service)
    for backing in ("postgres", "redis", "rabbitmq"):
        assert conditions.get(backing) == "service_healthy", f"{service} must wait for {backing} healthy"


def test_every_awaited_service_can_become_healthy() -> None:
    for service in services():
        for dependency, condition in depends_on(service).items():
            assert dependency in services(), f"{service} depends on unknown service {dependency}"
            if condition == "service_healthy":
                healthcheck = services()[dependency].get("healthcheck") or {}
                assert healthcheck.get("test") and not healthcheck.get("disable"), (
                    f"{service} waits for {dependency} to be healthy, which has no health check"
                )


def test_nginx_starts_after_web_and_ws_are_healthy() -> None:
    conditions = depends_on("nginx")
    assert conditions.get("web") == "service_healthy"
    assert conditions.get("ws") == "service_healthy"


def test_only_nginx_publishes_a_port() -> None:
    publishing = sorted(name for name, spec in services().items() if spec.get("ports"))
    assert publishing == ["nginx"], f"only nginx may be reachable from outside, not {publishing}"


def test_stateful_services_keep_their_data_in_named_volumes() -> None:
    declared = set(compose().get("volumes") or {})
    for service, data_dir in (
        ("postgres", "/var/lib/postgresql/data"),
        ("rabbitmq", "/var/lib/rabbitmq"),
        ("seaweedfs", "/data"),
        ("meilisearch", "/meili_data"),
    ):
        volumes = {target: source for source, (target, _mode) in mounts(service).items()}
        assert volumes.get(data_dir) in declared, f"{service}: {data_dir} is not on a named volume"


# --- compose: one image, roles ----------------------------------------------------------------------------


def test_application_services_run_one_image_built_from_the_dockerfile() -> None:
    roles = (*APP_SERVICES, RELEASE_SERVICE)
    images = {services()[name].get("image") for name in roles}
    builds = [services()[name].get("build") for name in roles]
    assert len(images) == 1 and None not in images, f"one image for every role, not {images}"
    assert all(build == builds[0] for build in builds), "every role must be built the same way"
    build = builds[0]
    assert isinstance(build, dict), "the build needs a context and the Dockerfile's path"
    context = (COMPOSE_FILE.parent / build["context"]).resolve()
    assert context == REPO_ROOT, f"the build context must be the repository root, not {context}"
    assert (context / build["dockerfile"]).resolve() == DOCKERFILE


@pytest.mark.parametrize("service", (*APP_SERVICES, RELEASE_SERVICE))
def test_each_service_runs_its_role_of_the_entrypoint(service: str) -> None:
    roles = entrypoint_roles()
    assert {"web", "ws", "worker", "beat", "migrate", "healthcheck"} <= roles, roles
    assert command(service)[0] == service, f"{service} must run the {service} role"
    if service in APP_SERVICES:
        test = [str(part) for part in services()[service]["healthcheck"]["test"]]
        assert test[-2:] == ["healthcheck", service], f"{service} must be probed as {service}: {test}"
        assert any(part.endswith("docker/entrypoint.sh") for part in test)


# --- compose: environment ---------------------------------------------------------------------------------


def test_the_curated_required_variables_are_read_by_the_settings() -> None:
    unread = set(PRODUCTION_REQUIRED) - variables_read_by_settings()
    assert not unread, f"PRODUCTION_REQUIRED names variables config/settings.py no longer reads: {unread}"


@pytest.mark.parametrize("service", (*APP_SERVICES, RELEASE_SERVICE))
def test_application_services_get_every_variable_production_requires(service: str) -> None:
    variables = environment(service)
    missing = [name for name in PRODUCTION_REQUIRED if not variables.get(name)]
    assert not missing, f"{service} lacks {missing}"
    assert variables["FORUM_ENV"] == "production"
    for name in SECRETS:
        required = [spec for _, spec in INTERPOLATION.findall(variables[name]) if spec.startswith(":?")]
        assert required, f"{service}: {name} must come from the environment as ${{NAME:?message}}"


@pytest.mark.parametrize("service", (*APP_SERVICES, RELEASE_SERVICE))
def test_every_variable_compose_sets_is_read_by_something(service: str) -> None:
    readers = variables_read()
    unknown = sorted(set(environment(service)) - set(readers))
    assert not unknown, (
        f"{service} sets {unknown}, which neither config/settings.py, docker/servers/*.py nor "
        "docker/entrypoint.sh reads: a typo, or a variable to add to the settings first"
    )


def test_the_variable_scan_finds_what_the_settings_read() -> None:
    # The scan itself: multi-line calls, every env.<type>() and os.environ form.
    found = variables_read_by_settings()
    assert {"DATABASE_URL", "ALLOWED_HOSTS", "DEBUG", "DATABASE_CONN_MAX_AGE", "FORUM_DATA_DIR"} <= found
    assert {"WEB_CONCURRENCY", "GRACEFUL_TIMEOUT"} <= variables_read_by_server_configs()
    entrypoint = variables_read_by_entrypoint()
    assert {"STATIC_EXPORT_DIR", "WORKER_QUEUES", "ALLOWED_HOSTS"} <= entrypoint
    assert "APP_DIR" not in entrypoint, "the entry point's own variables are not read from outside"


@pytest.mark.parametrize("variable", sorted(URL_TARGETS))
def test_addresses_name_the_compose_services(variable: str) -> None:
    for service in APP_SERVICES:
        url = urlsplit(without_interpolation(environment(service)[variable]))
        assert url.hostname == URL_TARGETS[variable], (
            f"{service}: {variable} points at {url.hostname}, not the {URL_TARGETS[variable]} service"
        )


def test_postgres_credentials_match_the_database_url() -> None:
    postgres = environment("postgres")
    value = environment("web")["DATABASE_URL"]
    url = urlsplit(without_interpolation(value))
    assert url.username == postgres["POSTGRES_USER"]
    assert url.path.lstrip("/") == postgres["POSTGRES_DB"]
    assert referenced_variables(postgres["POSTGRES_PASSWORD"]) <= referenced_variables(value)


def test_rabbitmq_credentials_match_the_broker_url() -> None:
    rabbitmq = environment("rabbitmq")
    value = environment("web")["CELERY_BROKER_URL"]
    url = urlsplit(without_interpolation(value))
    assert url.scheme == "amqp", "Celery's broker in compose is RabbitMQ"
    assert url.username == rabbitmq["RABBITMQ_DEFAULT_USER"]
    assert url.path.lstrip("/") == rabbitmq["RABBITMQ_DEFAULT_VHOST"]
    assert referenced_variables(rabbitmq["RABBITMQ_DEFAULT_PASS"]) <= referenced_variables(value)


def test_seaweedfs_and_meilisearch_keys_match_the_application() -> None:
    app = environment("web")
    seaweedfs = environment("seaweedfs")
    assert referenced_variables(seaweedfs["AWS_ACCESS_KEY_ID"]) == referenced_variables(
        app["S3_ACCESS_KEY_ID"]
    )
    assert referenced_variables(seaweedfs["AWS_SECRET_ACCESS_KEY"]) == referenced_variables(
        app["S3_SECRET_ACCESS_KEY"]
    )
    assert "-s3" in command("seaweedfs")
    s3_port = next(part.split("=", 1)[1] for part in command("seaweedfs") if part.startswith("-s3.port="))
    assert urlsplit(app["S3_ENDPOINT_URL"]).port == int(s3_port)
    meilisearch = environment("meilisearch")
    assert referenced_variables(meilisearch["MEILI_MASTER_KEY"]) == referenced_variables(
        app["MEILISEARCH_API_KEY"]
    )


def test_the_worker_keeps_the_pool_off_and_ws_turns_it_on() -> None:
    # Sync gunicorn workers keep one persistent connection each; the ASGI server shares a pool.
    assert environment("ws").get("DATABASE_POOL") == "true"
    assert "DATABASE_POOL" not in environment("web")


# --- static and media files -------------------------------------------------------------------------


def test_nginx_serves_the_volumes_the_application_writes() -> None:
    nginx = mounts("nginx")
    static_alias = re.search(r"alias\s+([^;]+);", nginx_location("/static/"))
    media_alias = re.search(r"alias\s+([^;]+);", nginx_location("/media/"))
    assert static_alias and media_alias, "nginx must serve /static/ and /media/ from disk"

    static_target, static_mode = nginx["static"]
    media_target, media_mode = nginx["media"]
    assert static_alias.group(1).rstrip("/") == static_target.rstrip("/")
    assert media_alias.group(1).rstrip("/") == media_target.rstrip("/")
    assert static_mode == media_mode == "ro", "nginx only reads the files"

    # The release step fills the static volume; the application writes uploads to the media volume.
    release = mounts(RELEASE_SERVICE)
    assert release["static"][0] == environment(RELEASE_SERVICE)["STATIC_EXPORT_DIR"]
    for service in ("web", "ws", "worker"):
        assert mounts(service)["media"][0] == environment(service)["MEDIA_ROOT"], service


def test_nginx_can_reach_no_private_upload() -> None:
    # Attachments (PRIVATE_MEDIA_ROOT in local-disk mode) live in a volume of their own that nginx
    # does not mount, in a folder no alias or root of its configuration covers
    # (config/tests/test_private_media.py asks a running nginx).
    nginx_targets = [target for target, _mode in mounts("nginx").values()]
    served = [
        match.rstrip("/")
        for match in re.findall(r"^\s*(?:alias|root)\s+([^;\s]+);", nginx_text(), re.MULTILINE)
    ]
    image_env = dict(
        pair.split("=", 1)
        for keyword, arguments in dockerfile_instructions()
        if keyword == "ENV"
        for pair in arguments.split()
    )
    for service in ("web", "ws", "worker", "beat", RELEASE_SERVICE):
        private = environment(service)["PRIVATE_MEDIA_ROOT"]
        assert private == image_env["PRIVATE_MEDIA_ROOT"], service
        assert mounts(service)["private"][0] == private, service
        assert mounts(service)["media"][0] != private
        for folder in [*served, *nginx_targets]:
            inside = private == folder or private.startswith(folder + "/") or folder.startswith(private + "/")
            assert not inside, f"nginx reaches {private} through {folder}"
    assert "private" not in mounts("nginx")


def test_nginx_reads_its_configuration_from_this_directory() -> None:
    nginx = mounts("nginx")
    source = next(path for path in nginx if path.startswith("."))
    assert (COMPOSE_FILE.parent / source).resolve() == NGINX_DIR
    config_dir, _mode = nginx[source]
    config_file = command("nginx")[command("nginx").index("-c") + 1]
    assert config_file == f"{config_dir}/{NGINX_CONF.name}"
    for include in re.findall(r"^\s*include\s+([^;\s]+);", NGINX_CONF.read_text(), re.MULTILINE):
        if not include.startswith("/"):
            assert (NGINX_DIR / include).is_file(), f"nginx includes {include}, which does not exist"


# --- nginx ----------------------------------------------------------------------------------------------


def test_nginx_sends_http_to_web_and_websockets_to_ws() -> None:
    text = nginx_text()
    upstreams = dict(re.findall(r"upstream\s+(\w+)\s*\{[^}]*?server\s+([\w.-]+:\d+)", text))
    root = re.search(r"proxy_pass\s+http://(\w+)", nginx_location("/"))
    websocket = re.search(r"proxy_pass\s+http://(\w+)", nginx_location("/ws/"))
    assert root and websocket
    assert upstreams[root.group(1)] == f"web:{WEB_PORT}"
    assert upstreams[websocket.group(1)] == f"ws:{WS_PORT}"


def test_nginx_upgrades_websocket_connections() -> None:
    block = nginx_location("/ws/")
    assert re.search(r"proxy_http_version\s+1\.1;", block)
    assert re.search(r"proxy_set_header\s+Upgrade\s+\$http_upgrade;", block)
    connection = re.search(r"proxy_set_header\s+Connection\s+\$(\w+);", block)
    assert connection, "the Connection header must be passed for the upgrade"
    mapping = nginx_block(nginx_text(), r"map\s+\$http_upgrade\s+\$" + connection.group(1))
    assert re.search(r"default\s+upgrade;", mapping)
    timeout = re.search(r"proxy_read_timeout\s+(\d+)([smh]?);", block)
    assert timeout, "WebSockets need a read timeout longer than nginx's default minute"
    seconds = int(timeout.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[timeout.group(2)]
    assert seconds >= 300


@pytest.mark.parametrize("path", ["/", "/ws/"])
def test_nginx_passes_request_id_and_forwarded_headers(path: str) -> None:
    block = nginx_location(path)
    for header in ("Host", "X-Request-ID", "X-Forwarded-For", "X-Forwarded-Proto"):
        assert re.search(rf"proxy_set_header\s+{header}\s", block), f"location {path} does not pass {header}"
    request_id = nginx_block(nginx_text(), r"map\s+\$http_x_request_id\s+\$\w+")
    assert "$request_id" in request_id, "a request without an id must get nginx's own"


def test_nginx_hides_metrics_and_takes_uploads() -> None:
    assert re.search(r"deny\s+all;|return\s+40[34];", nginx_location("/metrics", exact=True))
    text = nginx_text()
    assert re.search(r"client_max_body_size\s+\d+[km];", text)
    assert re.search(r"^\s*gzip\s+on;", text, re.MULTILINE)
    assert re.search(r"Cache-Control|expires", nginx_location("/static/"))


def test_the_nginx_health_check_asks_a_server_nginx_runs() -> None:
    probe = " ".join(str(part) for part in services()["nginx"]["healthcheck"]["test"])
    address = re.search(r"http://\S+", probe)
    assert address, f"the nginx health check asks no URL: {probe}"
    url = urlsplit(address.group(0))
    listen = re.compile(r"^\s*listen\s+" + re.escape(f"{url.hostname}:{url.port}") + r"\s*;", re.MULTILINE)
    servers = [body for body in nginx_blocks(nginx_text(), r"\bserver") if listen.search(body)]
    assert servers, f"no nginx server listens on {url.hostname}:{url.port}"
    server = servers[0]
    assert re.search(r"location\s*=\s*" + re.escape(url.path) + r"\s*\{[^}]*return\s+200", server)


# --- the image --------------------------------------------------------------------------------------------


def test_dockerfile_is_multi_stage_from_python_311() -> None:
    stages = [arguments for keyword, arguments in dockerfile_instructions() if keyword == "FROM"]
    assert len(stages) >= 2, "a builder stage and a runtime stage"
    arguments = dict(
        arguments.split("=", 1)
        for keyword, arguments in dockerfile_instructions()
        if keyword == "ARG" and "=" in arguments
    )
    base = arguments.get("PYTHON_IMAGE", stages[-1].split()[0])
    assert re.match(r"python:3\.11(\.\d+)?-slim", base), f"the runtime is python:3.11-slim, not {base}"
    copies = [arguments for keyword, arguments in dockerfile_instructions() if keyword == "COPY"]
    assert any("--from=" in copy for copy in copies), "the runtime takes the virtualenv from the builder"


def test_dockerfile_runs_as_a_numeric_non_root_user_with_a_health_check() -> None:
    instructions = dockerfile_instructions()
    defaults = dict(
        arguments.split("=", 1)
        for keyword, arguments in instructions
        if keyword == "ARG" and "=" in arguments
    )
    users = [arguments for keyword, arguments in instructions if keyword == "USER"]
    assert users, "the image must not run as root"
    user = re.sub(r"\$\{?(\w+)\}?", lambda match: defaults.get(match.group(1), match.group(0)), users[-1])
    name = user.split(":")[0]
    assert name.isdigit() and int(name) != 0, f"USER must be a numeric non-root id, not {users[-1]!r}"
    assert any(keyword == "HEALTHCHECK" for keyword, _ in instructions)
    entrypoint = next(arguments for keyword, arguments in instructions if keyword == "ENTRYPOINT")
    assert "docker/entrypoint.sh" in entrypoint


def test_dockerfile_collects_static_files_without_baking_in_a_secret() -> None:
    instructions = dockerfile_instructions()
    for keyword, arguments in instructions:
        if keyword in ("ENV", "ARG"):
            assert not re.search(r"\b(SECRET_KEY|ALLOWED_HOSTS)\b", arguments), f"{keyword} {arguments}"
    collect = [
        arguments for keyword, arguments in instructions if keyword == "RUN" and "collectstatic" in arguments
    ]
    assert collect, "static files are collected at build time"
    assert "SECRET_KEY=" in collect[0] and "ALLOWED_HOSTS=" in collect[0], (
        "the production profile needs a key and hosts, given to this command only"
    )
    env = " ".join(arguments for keyword, arguments in instructions if keyword == "ENV")
    assert "FORUM_ENV=production" in env


def test_dockerfile_installs_the_pinned_runtime_requirements() -> None:
    runs = " ".join(
        arguments for keyword, arguments in dockerfile_instructions() if keyword in ("COPY", "RUN")
    )
    assert "requirements/base.txt" in runs
    pins = pinned_requirements()
    assert {"gunicorn", "uvicorn", "celery", "boto3", "whitenoise"} <= set(pins), (
        "the entry point runs gunicorn, uvicorn and celery, and creates the bucket with boto3"
    )
    # `celery beat --enable-remote-control` (the beat health check) is new in Celery 5.7.
    assert version_tuple(pins["celery"]) >= (5, 7)


def test_the_config_files_the_entrypoint_names_exist() -> None:
    text = ENTRYPOINT.read_text()
    for path in re.findall(r"--config\s+(\S+)", text):
        assert (REPO_ROOT / path).is_file(), f"the entry point runs with {path}, which does not exist"
    assert GUNICORN_CONFIG.is_file()
    for module in re.findall(r"\b(config\.\w+):application\b", text):
        assert (REPO_ROOT / (module.replace(".", "/") + ".py")).is_file(), module


def test_entrypoint_is_executable_valid_sh_and_refuses_unknown_roles() -> None:
    assert os.access(ENTRYPOINT, os.X_OK), "docker/entrypoint.sh must be executable"
    syntax = subprocess.run(["sh", "-n", str(ENTRYPOINT)], capture_output=True, text=True, check=False)
    assert syntax.returncode == 0, syntax.stderr
    unknown = subprocess.run(
        ["sh", str(ENTRYPOINT), "no-such-role-or-command"], capture_output=True, text=True, check=False
    )
    assert unknown.returncode == 64, unknown.stderr
    assert "unknown role" in unknown.stderr


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_image() -> None:
    patterns = {line.strip() for line in DOCKERIGNORE.read_text().splitlines()}
    assert {".git", ".venv", ".env", "**/.env", ".data"} <= patterns
    for needed in ("docker/entrypoint.sh", "docker/servers", "requirements", "config", "manage.py"):
        assert needed not in patterns, f".dockerignore drops {needed}, which the image needs"


# --- CI ---------------------------------------------------------------------------------------------


def workflow_runs(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) for step in job.get("steps", []))


def test_ci_runs_on_push_and_pull_request() -> None:
    triggers = workflow().get("on", workflow().get(True))  # YAML 1.1 reads a bare `on` as true
    assert isinstance(triggers, dict) and {"push", "pull_request"} <= set(triggers)


def test_ci_runs_the_checks_against_postgres_redis_and_rabbitmq() -> None:
    jobs = workflow()["jobs"]
    checks = next(job for job in jobs.values() if "make test" in workflow_runs(job))
    runs = workflow_runs(checks)
    for check in ("make test", "lint-imports", "ruff-check", "format-check", "mypy", "chromium"):
        assert check in runs, f"CI does not run {check}"
    makefile = MAKEFILE.read_text()
    for target in re.findall(r"\bmake\s+([\w-]+)", runs):
        assert re.search(rf"^{re.escape(target)}:", makefile, re.MULTILINE), f"no Makefile target {target}"

    container = checks.get("container")
    image = container if isinstance(container, str) else (container or {}).get("image", "")
    python = str(image) + str(checks.get("steps"))
    assert "3.11" in python, "CI runs Python 3.11"

    ci_services = checks.get("services") or {}
    for name, image_prefix in (("postgres", "postgres:17"), ("redis", "redis:7"), ("rabbitmq", "rabbitmq:3")):
        assert str(ci_services[name]["image"]).startswith(image_prefix), name
        assert "--health-cmd" in str(ci_services[name].get("options", "")), f"{name} needs a health check"
        # The same major versions as production.
        assert str(services()[name]["image"]).startswith(image_prefix), f"compose runs another {name}"

    env = checks.get("env") or {}
    for variable, service in (
        ("DATABASE_URL", "postgres"),
        ("REDIS_URL", "redis"),
        ("CELERY_BROKER_URL", "rabbitmq"),
    ):
        host = urlsplit(env[variable]).hostname
        assert host in (service, "127.0.0.1", "localhost"), f"{variable} does not reach the {service} service"


def test_ci_caches_pip_and_builds_the_compose_stack() -> None:
    text = CI_WORKFLOW.read_text()
    assert ("actions/cache" in text and ".cache/pip" in text) or "cache: pip" in text
    runs = "\n".join(workflow_runs(job) for job in workflow()["jobs"].values())
    assert "docker/compose.yaml" in runs and re.search(r"\bup\b.*--wait", runs)


def test_nginx_never_serves_attachments_from_the_media_volume() -> None:
    # Downloads of attachments go through the app's permission check; a guessed URL must not reach
    # the file on disk.
    assert re.search(r"return\s+404", nginx_location("/media/attachments/"))
