"""The production stack as an operator relies on it: docker-compose.yml, the env file, the
Dockerfile and the gateway's example configuration.

Docker need not be installed: these read the files. `docker compose config` runs too when
Docker Compose is there.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.core
import typer.main
import yaml

from devices.config import load_config
from service.cli.main import app

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / "linli.env.example"
GATEWAY_EXAMPLE = ROOT / "gateway.toml.example"
DOCKERFILE = ROOT / "Dockerfile"

LINLI_SERVICES = ("migrate", "api", "worker", "collector")
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message}, ${NAME:+x}
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}")
SECRET_WORDS = re.compile(r"PASSWORD|TOKEN|SECRET|AUTH|KEY", re.IGNORECASE)
PLACEHOLDERS = {"", "change-me"}
DBUS_SOURCES = ("/run/dbus", "/var/run/dbus")


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def services() -> dict[str, Any]:
    return compose()["services"]


def env_example() -> dict[str, str]:
    """The example env file's settings, in the `NAME=value` form Compose reads."""
    settings = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, equals, value = line.partition("=")
            assert equals, f"linli.env.example: not NAME=value: {line!r}"
            settings[name.strip()] = value.strip()
    return settings


def strings(node: Any) -> Iterator[str]:
    """Every string in a parsed YAML document, keys included."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def variables_used() -> set[str]:
    """The variables Compose takes from the environment: interpolations and secret sources."""
    text = COMPOSE_FILE.read_text(encoding="utf-8").replace("$$", "")
    used = {match.group(1) for match in VARIABLE.finditer(text)}
    for secret in compose().get("secrets", {}).values():
        if "environment" in secret:
            used.add(secret["environment"])
    return used


def interpolate(value: str, env: dict[str, str]) -> str:
    """Resolve ${...} the way Compose does, for the forms this file uses."""

    def one(match: re.Match[str]) -> str:
        name, operator, argument = match.groups()
        current = env.get(name)
        if operator in (":-", "-"):
            unset = current is None or (operator == ":-" and current == "")
            return argument if unset else str(current)
        if operator in (":?", "?"):
            assert current, f"{name} is required: {argument}"
            return current
        return current or ""

    return VARIABLE.sub(one, value)


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    """The services this one waits for, and the condition of each."""
    needs = service.get("depends_on", {})
    if isinstance(needs, list):
        return dict.fromkeys(needs, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in needs.items()}


def volumes_of(service: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(source, target, read-only) for each volume, short or long syntax."""
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target, *mode = volume.split(":")
            mounts.append((source, target, bool(mode) and "ro" in mode[0].split(",")))
        else:
            mounts.append((volume["source"], volume["target"], volume.get("read_only", False)))
    return mounts


def command_of(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    return command.split() if isinstance(command, str) else list(command)


def linli_command(name: str) -> typer.core.TyperCommand | typer.core.TyperGroup:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    command = group.commands.get(name)
    assert command is not None, f"linli has no command {name!r}"
    return command


class TestServices:
    def test_the_stack_has_its_services(self):
        assert set(services()) == {"timescaledb", "migrate", "api", "worker", "collector"}

    @pytest.mark.parametrize(
        ("service", "command"),
        [("migrate", "migrate"), ("api", "serve"), ("worker", "worker"), ("collector", "collect")],
    )
    def test_each_runs_its_linli_command(self, service, command):
        words = command_of(services()[service])
        assert words[:2] == ["linli", command]
        known = {opt for param in linli_command(command).params for opt in param.opts}
        options = [word for word in words[2:] if word.startswith("-")]
        assert set(options) <= known, f"{service}: options linli {command} does not have"

    def test_every_image_is_pinned_to_a_version(self):
        for name, service in services().items():
            image = service.get("image")
            assert image, f"{name} names no image"
            repository, _, tag = image.rpartition(":")
            assert repository, f"{name}: {image} has no tag"
            assert "/" not in tag, f"{name}: {image} has no tag"
            assert tag != "latest", f"{name}: {image} is not a version"
            assert re.search(r"\d", tag), f"{name}: {image} is not a version"

    def test_the_linli_image_is_built_here_and_tagged_with_the_package_version(self):
        project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
        for name in LINLI_SERVICES:
            service = services()[name]
            assert service["image"] == f"linli:{project['project']['version']}", name
            assert service.get("build") in (".", {"context": "."}), name

    def test_every_long_running_service_has_a_healthcheck_or_waits_for_one(self):
        stack = services()

        def guarded(name: str) -> bool:
            service = stack[name]
            if "healthcheck" in service:
                return True
            return any(
                condition == "service_healthy"
                or (condition == "service_completed_successfully" and guarded(other))
                for other, condition in depends_on(service).items()
            )

        # The collector runs in a home, apart from the rest; the service notices a silent
        # gateway itself (gateway.offline).
        long_running = [
            name
            for name, service in stack.items()
            if service.get("restart") not in (None, "no")
            and "gateway" not in service.get("profiles", [])
        ]
        assert {"timescaledb", "api", "worker"} <= set(long_running)
        for name in long_running:
            assert guarded(name), f"{name} neither has a healthcheck nor waits for one"

    def test_the_api_healthcheck_asks_the_liveness_route(self):
        test = services()["api"]["healthcheck"]["test"]
        assert "http://127.0.0.1:8000/health" in " ".join(test)


class TestMigrate:
    def test_migrate_runs_once_after_the_database_is_healthy(self):
        migrate = services()["migrate"]
        assert command_of(migrate) == ["linli", "migrate"]
        assert migrate.get("restart") == "no"
        assert depends_on(migrate) == {"timescaledb": "service_healthy"}

    @pytest.mark.parametrize("name", ["api", "worker"])
    def test_the_api_and_workers_start_after_a_successful_migration(self, name):
        service = services()[name]
        assert depends_on(service).get("migrate") == "service_completed_successfully"
        environment = service["environment"]
        assert environment["LINLI_MIGRATE_ON_START"] == "false"
        assert environment["LINLI_RUN_WORKER"] == "false"

    @pytest.mark.parametrize("name", ["migrate", "api", "worker"])
    def test_they_all_use_the_database_service(self, name):
        url = interpolate(services()[name]["environment"]["LINLI_DATABASE_URL"], env_example())
        assert url == "postgresql://linli:change-me@timescaledb:5432/linli"


class TestDatabase:
    def test_the_data_lives_in_a_named_volume(self):
        stack = compose()
        mounts = volumes_of(stack["services"]["timescaledb"])
        sources = {source for source, target, _ in mounts if target == "/var/lib/postgresql/data"}
        assert len(sources) == 1
        assert sources <= set(stack["volumes"]), "the data directory is not a named volume"

    def test_it_is_reachable_from_this_machine_only(self):
        for port in services()["timescaledb"].get("ports", []):
            assert str(port).startswith("127.0.0.1:"), port


class TestWorker:
    def test_the_worker_scales(self):
        worker = services()["worker"]
        assert "container_name" not in worker
        assert "ports" not in worker
        replicas = interpolate(str(worker["deploy"]["replicas"]), env_example())
        assert int(replicas) >= 1


class TestCollector:
    def collector(self) -> dict[str, Any]:
        return services()["collector"]

    def test_it_runs_only_with_the_gateway_profile(self):
        assert self.collector()["profiles"] == ["gateway"]
        assert depends_on(self.collector()) == {}  # it runs on a host of its own

    def test_it_reaches_bluez_over_the_host_dbus(self):
        collector = self.collector()
        assert collector["network_mode"] == "host"
        sources = [source for source, _, _ in volumes_of(collector)]
        assert any(source.startswith(DBUS_SOURCES) for source in sources), sources
        assert "ports" not in collector  # meaningless on the host network

    def test_its_config_is_mounted_read_only_where_the_command_reads_it(self):
        command = command_of(self.collector())
        config = command[command.index("--config") + 1]
        mounts = {target: read_only for _, target, read_only in volumes_of(self.collector())}
        assert mounts.get(config) is True

    def test_the_example_config_fits_the_collector(self, tmp_path):
        document = tomllib.loads(GATEWAY_EXAMPLE.read_text(encoding="utf-8"))
        stack = compose()
        collector = stack["services"]["collector"]
        named = {
            target: source
            for source, target, _ in volumes_of(collector)
            if source in stack["volumes"]
        }
        assert document["data_dir"] in named, "the outbox would not outlive the container"
        secrets = {
            secret.get("target", f"/run/secrets/{secret['source']}"): secret
            for secret in collector["secrets"]
        }
        assert document["token_file"] in secrets
        # Secrets arrive owned by root and readable by their owner only, unless told.
        user = re.search(r"useradd .*--uid (\d+)", DOCKERFILE.read_text(encoding="utf-8"))
        assert user is not None
        assert secrets[document["token_file"]].get("uid") == user.group(1)

        # The gateway's own loader accepts it, once the token is where it points.
        token = tmp_path / "token"
        token.write_text("lgw_" + "a" * 43, encoding="utf-8")
        text = GATEWAY_EXAMPLE.read_text(encoding="utf-8").replace(
            document["token_file"], str(token)
        )
        (tmp_path / "gateway.toml").write_text(text, encoding="utf-8")
        config = load_config(tmp_path / "gateway.toml")
        assert config.service_url.startswith("https://")


class TestConfiguration:
    def test_every_variable_the_compose_file_uses_is_in_the_example_env(self):
        documented = set(env_example())
        assert variables_used() - documented == set()

    def test_the_example_env_documents_nothing_the_stack_ignores(self):
        assert set(env_example()) - variables_used() == set()

    def test_every_setting_in_the_example_env_is_explained(self):
        lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            if line.strip() and not line.startswith("#"):
                above = [previous for previous in lines[:number] if previous.strip()]
                assert above, f"no comment above {line!r}"
                assert above[-1].startswith("#"), f"no comment above {line!r}"

    def test_the_database_password_is_required(self):
        text = COMPOSE_FILE.read_text(encoding="utf-8")
        forms = {
            (match.group(2), match.group(3))
            for match in VARIABLE.finditer(text)
            if match.group(1) == "LINLI_DB_PASSWORD"
        }
        assert forms
        assert all(operator == ":?" or operator is None for operator, _ in forms)
        assert any(operator == ":?" and message for operator, message in forms)

    def test_no_secret_value_in_the_example_env(self):
        for name, value in env_example().items():
            if SECRET_WORDS.search(name):
                assert value in PLACEHOLDERS, f"{name} has a value in linli.env.example"

    def test_no_secret_value_in_the_compose_file(self):
        for name, service in services().items():
            environment = service.get("environment", {})
            if isinstance(environment, list):
                environment = dict(item.partition("=")[::2] for item in environment)
            for key, value in environment.items():
                if SECRET_WORDS.search(key):
                    assert VARIABLE.fullmatch(str(value)), f"{name}: {key} is written out"
        for text in strings(compose()):
            for password in re.findall(r"://[^:/@\s]+:([^@\s]+)@", text):
                assert VARIABLE.fullmatch(password), f"a password is written out: {text}"

    @pytest.mark.skipif(shutil.which("docker") is None, reason="Docker is not installed")
    def test_docker_compose_accepts_the_file(self):
        version = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, text=True, check=False
        )
        if version.returncode != 0:
            pytest.skip("Docker Compose is not installed")
        result = subprocess.run(
            [
                *("docker", "compose", "--env-file", str(ENV_EXAMPLE), "--profile", "gateway"),
                *("--file", str(COMPOSE_FILE), "config", "--quiet"),
            ],
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
        )
        assert result.returncode == 0, result.stderr


class TestDockerfile:
    def instructions(self) -> list[tuple[str, str]]:
        text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
        pairs = []
        for line in text.splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                keyword, _, rest = line.strip().partition(" ")
                pairs.append((keyword.upper(), rest.strip()))
        return pairs

    def test_it_copies_every_package_the_project_installs(self):
        project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
        packages = {
            pattern.rstrip("*").rstrip(".")
            for pattern in project["tool"]["setuptools"]["packages"]["find"]["include"]
        }
        copied = set()
        for keyword, rest in self.instructions():
            if keyword == "COPY" and not rest.startswith("--from"):
                copied.update(source.rstrip("/") for source in rest.split()[:-1])
        assert packages <= copied, f"not copied into the image: {packages - copied}"
        assert {"pyproject.toml", "README.md"} <= copied  # what building the package reads

    def test_nothing_it_copies_is_left_out_of_the_build_context(self):
        ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        patterns = {line.strip().rstrip("/") for line in ignored if line.strip()}
        for keyword, rest in self.instructions():
            if keyword == "COPY" and not rest.startswith("--from"):
                for source in rest.split()[:-1]:
                    assert source.rstrip("/") not in patterns, source
        assert {"linli.env", ".venv", ".git"} <= patterns

    def test_it_runs_linli_unbuffered_as_an_unprivileged_user(self):
        instructions = self.instructions()
        users = [rest for keyword, rest in instructions if keyword == "USER"]
        assert users, "the image runs as root"
        assert users[-1] not in ("root", "0"), "the image runs as root"
        environment = " ".join(rest for keyword, rest in instructions if keyword == "ENV")
        assert "PYTHONUNBUFFERED=1" in environment
        command = next(rest for keyword, rest in reversed(instructions) if keyword == "CMD")
        assert command.startswith('["linli"')

    def test_its_base_images_are_not_floating(self):
        arguments = dict(
            rest.partition("=")[::2] for keyword, rest in self.instructions() if keyword == "ARG"
        )
        for keyword, rest in self.instructions():
            if keyword == "FROM":
                image = interpolate(rest.split()[0], arguments)
                assert ":" in image, image
                assert not image.endswith(":latest"), image
